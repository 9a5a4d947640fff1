package jllm.io.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.io.TensorIO;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HfModelDirTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static LinkedHashMap<String, Tensor> tensors() {
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        t.put("a.weight", Tensor.arange(0, 12, 1).to(jllm.tensor.DType.F32).view(3, 4));
        t.put("b.weight", Tensor.ones(5));
        t.put("c.bias", Tensor.full(new int[] {2, 2}, 0.5));
        return t;
    }

    @Test
    void writeShardedThenRead() throws Exception {
        Path d = tmp.resolve("m");
        HfModelDir.write(d, JSON.readTree("{\"model_type\": \"x\", \"b\": [1, 2]}"), tensors(), 48);
        var index = JSON.readTree(d.resolve(HfModelDir.INDEX).toFile());
        assertEquals(84, index.get("metadata").get("total_size").asLong());
        assertEquals("model-00001-of-00002.safetensors", index.get("weight_map").get("a.weight").asText());
        assertEquals("model-00002-of-00002.safetensors", index.get("weight_map").get("c.bias").asText());
        assertEquals(Map.of("format", "pt"), TensorIO.metadata(d.resolve("model-00002-of-00002.safetensors")));
        String cfg = Files.readString(d.resolve("config.json"));
        assertEquals("{\n  \"b\": [\n    1,\n    2\n  ],\n  \"model_type\": \"x\"\n}\n", cfg, "json.dumps(indent=2, sort_keys=True)");
        HfModelDir r = HfModelDir.open(d);
        assertEquals(List.of("a.weight", "b.weight", "c.bias"), r.keys());
        for (var e : tensors().entrySet()) assertTrue(e.getValue().equal(r.tensor(e.getKey())), e.getKey());
        assertFalse(Files.list(tmp).anyMatch(p -> p.getFileName().toString().startsWith(".m.")), "no temp dirs left");
    }

    @Test
    void halfPrecisionWeightsReadAsF32() throws Exception {
        Path d = tmp.resolve("h");
        Files.createDirectories(d);
        Files.writeString(d.resolve("config.json"), "{}");
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        t.put("x", Tensor.of(new float[] {1.5f, -2f}, 2).to(jllm.tensor.DType.BF16));
        t.put("y", Tensor.of(new float[] {0.25f}, 1).to(jllm.tensor.DType.F16));
        TensorIO.save(d.resolve("model.safetensors"), t);
        HfModelDir r = HfModelDir.open(d);
        assertEquals(jllm.tensor.DType.F32, r.tensor("x").dtype());
        assertEquals(-2f, r.tensor("x").toFloatArray()[1]);
        assertEquals(0.25f, r.tensor("y").toFloatArray()[0]);
    }

    @Test
    void errorsNameTheFile() throws Exception {
        Path d = tmp.resolve("e");
        Files.createDirectories(d);
        String m = assertThrows(HfException.class, () -> HfModelDir.open(d)).getMessage();
        assertTrue(m.contains("config.json") && m.contains(d.toString()), m);
        Files.writeString(d.resolve("config.json"), "{\"a\": ");
        m = assertThrows(HfException.class, () -> HfModelDir.open(d)).getMessage();
        assertTrue(m.contains(d.resolve("config.json").toString()) && m.contains("not valid JSON"), m);
        Files.writeString(d.resolve("config.json"), "{}");
        m = assertThrows(HfException.class, () -> HfModelDir.open(d)).getMessage();
        assertTrue(m.contains("no weights") && m.contains(d.toString()), m);
        HfModelDir.write(d, JSON.readTree("{}"), tensors(), 48);
        Path index = d.resolve(HfModelDir.INDEX);
        Files.writeString(index, Files.readString(index).replace("\"b.weight\"", "\"zz.weight\""));
        m = assertThrows(HfException.class, () -> HfModelDir.open(d)).getMessage();
        assertTrue(m.contains(index.toString()) && m.contains("'zz.weight'") && m.contains("model-0000"), m);
    }

    @Test
    void failedWriteLeavesPreviousDirectory() throws Exception {
        Path d = tmp.resolve("keep");
        HfModelDir.write(d, JSON.readTree("{\"v\": 1}"), tensors(), 0);
        LinkedHashMap<String, Tensor> bad = tensors();
        bad.put("bad", null);
        assertThrows(RuntimeException.class, () -> HfModelDir.write(d, JSON.readTree("{\"v\": 2}"), bad, 0));
        assertEquals(1, JSON.readTree(d.resolve("config.json").toFile()).get("v").asInt());
        assertEquals(3, HfModelDir.open(d).keys().size());
        assertEquals(1, Files.list(tmp).count(), "temp directory removed");
    }

    @Test
    void writesRefuseWhatIsNotAModelDirectoryAndCleanUpAfterAKilledWrite() throws Exception {
        Path notModel = Files.createDirectories(tmp.resolve("home"));
        Files.writeString(notModel.resolve("notes.txt"), "mine");
        var e = assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> HfModelDir.write(notModel, JSON.readTree("{}"), tensors(), 0));
        assertTrue(e.getMessage().contains("is not a model directory (no config.json)"), e.getMessage());
        assertEquals("mine", Files.readString(notModel.resolve("notes.txt")));

        Path link = Files.createSymbolicLink(tmp.resolve("link"), notModel);
        assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> HfModelDir.write(link, JSON.readTree("{}"), tensors(), 0));

        Path leftover = Files.createDirectories(tmp.resolve(".m.tmp-dead"));
        Path m = tmp.resolve("m");
        HfModelDir.write(m, JSON.readTree("{}"), tensors(), 0);
        assertFalse(Files.exists(leftover));
        // made like any mkdir'd directory, not owner-only as a JDK temp directory would be
        assertEquals(Files.getPosixFilePermissions(Files.createDirectory(tmp.resolve("plain"))), Files.getPosixFilePermissions(m));
    }
}
