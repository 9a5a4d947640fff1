package jllm.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * llama.cpp as the benchmarks' peer: a Node script in tools/gguf (under {@code -Djllm.home}, which
 * the launcher sets) drives node-llama-cpp 3.21.1's prebuilt CPU build and prints one JSON object
 * per line. Nothing here is needed to use jllm: without Node or without {@code npm ci} in
 * tools/gguf the peer is reported as not run, with what it needs.
 */
final class LlamaCpp {
    private LlamaCpp() {}

    private static Path dir() {
        return Path.of(System.getProperty("jllm.home", "."), "tools", "gguf");
    }

    /** Why the peer cannot run here, or null when it can. */
    static String missing() {
        return Files.isDirectory(dir().resolve("node_modules").resolve("node-llama-cpp")) ? null
                : "needs Node and `npm ci` in tools/gguf, which installs node-llama-cpp 3.21.1";
    }

    /**
     * Runs {@code node tools/gguf/SCRIPT args...} and returns its JSON lines (other output is llama.cpp's
     * log). Throws with the script's output when it fails.
     */
    static List<JsonNode> run(String script, List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("node", dir().resolve(script).toString()));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String all = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IllegalStateException(String.join(" ", cmd) + " exited with " + p.exitValue() + ": " + all.strip());
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> out = new ArrayList<>();
        for (String line : all.lines().filter(l -> l.startsWith("{")).toList()) out.add(json.readTree(line));
        if (out.isEmpty()) throw new IllegalStateException(String.join(" ", cmd) + " printed no result: " + all.strip());
        return out;
    }
}
