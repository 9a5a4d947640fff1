package jllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.serve.ServeFixtures;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static jllm.cli.ExamplesCommandTest.assertHas;
import static jllm.cli.ExamplesCommandTest.run;
import static org.junit.jupiter.api.Assertions.*;

/** {@code jllm serve} end to end: usage errors, then a real server process answering and stopping on SIGTERM. */
class ServeCommandTest {

    @Test
    void badOptionsAreUsageErrors() {
        String model = ServeFixtures.MODEL.toString();
        var port = run("serve", "--model", model, "--port", "70000");
        assertEquals(2, port.rc());
        assertHas(port.err(), "jllm serve: --port must be in [0, 65535], got 70000");
        assertEquals(2, run("serve", "--model", model, "--max-batch", "0").rc());
        var same = run("serve", "--model", model, "--adapter", "aidreams=" + ServeFixtures.ADAPTER_A);
        assertEquals(2, same.rc());
        assertHas(same.err(), "differ from the base model's id 'aidreams'");
        assertTrue(run("serve", "--help").out().contains("OpenAI's HTTP API"));
    }

    @Test
    void aBadAdapterDirectoryIsBadInput() {
        var r = run("serve", "--model", ServeFixtures.MODEL.toString(), "--adapter", "x=" + Path.of("no/such/adapter"), "--port", "0");
        assertEquals(1, r.rc());
        assertHas(r.err(), "not a PEFT adapter directory");
    }

    @Test
    void servesAndStopsOnSigterm(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path errFile = dir.resolve("stderr.txt");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), "jllm.cli.Main",
                "serve", "--model", ServeFixtures.MODEL.toString(), "--adapter", "a=" + ServeFixtures.ADAPTER_A, "--port", "0", "--api-key", "k1")
                .redirectError(errFile.toFile()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String first = out.readLine(), second = out.readLine();
            assertNotNull(second, "the server printed its URL");
            assertEquals("jllm serve: models aidreams, a (context 128 tokens, max batch 16), API key required", first);
            Matcher m = Pattern.compile("listening on (http://127\\.0\\.0\\.1:(\\d+)/v1)").matcher(second);
            assertTrue(m.find(), second);
            assertEquals("jllm serve: chat page at http://127.0.0.1:" + m.group(2) + "/", out.readLine());
            HttpClient http = HttpClient.newHttpClient();
            var r = http.send(HttpRequest.newBuilder(URI.create(m.group(1) + "/completions")).header("Authorization", "Bearer k1")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"a\",\"prompt\":\"Once\",\"max_tokens\":5}")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(5, new ObjectMapper().readTree(r.body()).at("/usage/completion_tokens").asInt());
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the server stops");
            String err = Files.readString(errFile);
            assertHas(err, "jllm serve: stopping", "jllm serve: stopped");
        } finally {
            p.destroyForcibly();
        }
    }
}
