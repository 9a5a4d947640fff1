package jllm.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Year;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

/** Chat templates rendered by jinjava against references from Python jinja2 in transformers' environment. */
class ChatTemplateTest {

    private static final JsonNode REFS = read();

    private static JsonNode read() {
        try {
            return HfTestFiles.JSON.readTree(HfTestFiles.resourceText("/tokenizers/chat/references.json")).get("cases");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<ChatTemplate.Message> messages(JsonNode arr) {
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (JsonNode m : arr) out.add(new ChatTemplate.Message(m.get("role").asText(), m.get("content").asText()));
        return out;
    }

    private static Map<String, String> specials(JsonNode n) {
        Map<String, String> out = new HashMap<>();
        n.properties().forEach(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    private static ChatTemplate template(String name) {
        return new ChatTemplate(HfTestFiles.resourceText("/tokenizers/chat/" + name + ".jinja"));
    }

    @Test
    void rendersExactlyLikeTransformersJinja() {
        List<String> failures = new ArrayList<>();
        int n = 0;
        for (var it = REFS.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            JsonNode c = e.getValue();
            if (!c.has("expected")) continue;
            n++;
            String got;
            try {
                got = template(c.get("template").asText()).render(messages(c.get("messages")),
                        c.get("add_generation_prompt").asBoolean(), specials(c.get("special_tokens")));
            } catch (RuntimeException ex) {
                failures.add(e.getKey() + ": threw " + ex);
                continue;
            }
            String want = c.get("expected").asText();
            if (!want.equals(got)) failures.add(e.getKey() + ":\n  want " + HfTestFiles.JSON.valueToTree(want) + "\n  got  " + HfTestFiles.JSON.valueToTree(got));
        }
        assertTrue(n >= 40, "references found: " + n);
        assertTrue(failures.isEmpty(), failures.size() + " of " + n + " renderings differ:\n" + String.join("\n", failures));
    }

    @Test
    void raiseExceptionBecomesAClearJavaException() {
        for (var it = REFS.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            JsonNode c = e.getValue();
            if (!c.has("error")) continue;
            var ex = assertThrows(ChatTemplate.TemplateException.class, () -> template(c.get("template").asText())
                    .render(messages(c.get("messages")), false, specials(c.get("special_tokens"))), e.getKey());
            assertTrue(ex.getMessage().contains(c.get("error").asText()), ex.getMessage());
            assertTrue(ex.getMessage().contains("raise"), ex.getMessage());
        }
    }

    @Test
    void strftimeNowAndTojsonOptions() {
        String out = new ChatTemplate("{{ strftime_now('%Y') }}|{{ {'a': [1, 2]} | tojson }}|{{ 'x' | tojson(indent=2) }}")
                .render(List.of(), false, Map.of());
        assertEquals(Year.now().toString() + "|{\"a\": [1, 2]}|\"x\"", out);
        // json.dumps({"a": [1, 2], "b": "\u00e9"}, ensure_ascii=False, indent=2)
        String pretty = new ChatTemplate("{{ {'a': [1, 2], 'b': '\u00e9'} | tojson(indent=2) }}").render(List.of(), false, Map.of());
        assertEquals("{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"\u00e9\"\n}", pretty);
    }

    @Test
    void syntaxErrorIsReported() {
        var ex = assertThrows(ChatTemplate.TemplateException.class,
                () -> new ChatTemplate("{% for m in messages %}{{ m['role'] }}").render(List.of(ChatTemplate.Message.user("hi")), false, Map.of()));
        assertTrue(ex.getMessage().contains("chat template"), ex.getMessage());
    }

    @Test
    void runawayOrHostileTemplatesStopWithAClearError() {
        long t0 = System.nanoTime();
        var slow = assertThrows(ChatTemplate.TemplateException.class, () -> new ChatTemplate(
                "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% set x = k %}{% endfor %}{% endfor %}{% endfor %}")
                .render(List.of(), false, Map.of()));
        assertTrue(slow.getMessage().contains("range() produced more than 5000000 values in one render")
                || slow.getMessage().contains("did not finish rendering within 2000 ms"), slow.getMessage());
        assertTrue((System.nanoTime() - t0) / 1e9 < 10, "the time budget holds");
        try { Thread.sleep(1000); } catch (InterruptedException e) { throw new RuntimeException(e); }
        assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("chat-template") && t.isAlive()),
                "the abandoned render stopped");
        var big = assertThrows(ChatTemplate.TemplateException.class, () -> new ChatTemplate(
                "{% for i in range(100000) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}{% endfor %}")
                .render(List.of(), false, Map.of()));
        assertTrue(big.getMessage().contains("chat template failed"), big.getMessage());
        // only the template's own text: no files, no classpath resources
        var inc = assertThrows(ChatTemplate.TemplateException.class, () -> new ChatTemplate("{% include 'jllm/presets/seed003.json' %}")
                .render(List.of(), false, Map.of()));
        assertTrue(inc.getMessage().contains("chat templates cannot include other files"), inc.getMessage());
    }

    @Test
    void pythonStringMethodMisuseIsAClearError() {
        for (String[] c : new String[][] {
                {"{{ 'a'.split(',', 1, 2) }}", "str.split() takes 0 to 2 arguments (3 given)"},
                {"{{ 'a'.strip(1) }}", "expected a string argument"},
                {"{{ 'a b'.split('') }}", "empty separator"}}) {
            var ex = assertThrows(ChatTemplate.TemplateException.class, () -> new ChatTemplate(c[0]).render(List.of(), false, Map.of()), c[0]);
            assertTrue(ex.getMessage().contains(c[1]), ex.getMessage());
        }
        // binary plus without spaces after names, literals and brackets; unary plus still parses
        assertEquals("3|3|4|2", new ChatTemplate("{% set x = 2 %}{{ x+1 }}|{{ (1)+2 }}|{{ [3][0]+1 }}|{{ +2 }}")
                .render(List.of(), false, Map.of()));
    }

    @Test
    void whatJinjaRejectsIsAnErrorNotText() {
        for (String[] c : new String[][] {
                {"{{ messages[0]['content'] ", "'{{' is never closed by '}}'"},
                {"hello {# note", "'{#' is never closed"},
                {"{{ messages | frobnicate }}", "no filter named 'frobnicate'"},
                {"{% if 3 is frob %}x{% endif %}", "no test named 'frob'"},
                {"{% for i in range(10**9) %}{% endfor %}", "the sandbox blocks ranges larger than 100000"},
                {"{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "Max recursion limit of 200 reached for macro 'f'"}}) {
            var e = assertThrows(ChatTemplate.TemplateException.class, () -> new ChatTemplate(c[0]).render(List.of(), false, Map.of()), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
        // what Jinja accepts still renders: a closing sequence inside a string, raw blocks, bounded recursion
        assertEquals("}}|{{ x|321", new ChatTemplate("{{ '}}' }}|{% raw %}{{ x{% endraw %}|"
                + "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}").render(List.of(), false, Map.of()));
    }
}
