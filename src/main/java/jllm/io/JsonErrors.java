package jllm.io;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;

/** What went wrong in a JSON text, for error messages that also name the file. */
public final class JsonErrors {
    private JsonErrors() {}

    /**
     * The parser's own message and, where it knows one, the position ("line 3, column 14"). Some
     * failures have no position (a nesting or size limit of the parser), so it is optional.
     */
    public static String describe(JsonProcessingException e) {
        String msg = e.getOriginalMessage() != null ? e.getOriginalMessage() : e.getClass().getSimpleName();
        JsonLocation at = e.getLocation();
        if (at == null || at == JsonLocation.NA || at.getLineNr() < 0) return msg;
        return msg + " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
    }
}
