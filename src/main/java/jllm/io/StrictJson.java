package jllm.io;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * The JSON mapper for configs that become records: a value of the wrong JSON type is an error, never
 * coerced ({@code "n_embd": "128"} is not 128, {@code 128.5} is not 128, and a number beyond the
 * field's range is an error naming it, as Jackson reports out-of-range numbers).
 */
public final class StrictJson {
    private StrictJson() {}

    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    /**
     * A mapper for every JSON file jllm reads: what follows the document ({@code {...}{}}, a second
     * object, garbage after a truncated edit) is an error, not silently ignored as Jackson does by
     * default.
     */
    public static ObjectMapper files() {
        return JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
    }
}
