package jllm.cli;

import static jllm.cli.ExamplesCommandTest.run;
import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jllm.io.SafeTensors;
import jllm.models.AutoModelForCausalLM;
import jllm.models.PretrainedModel;
import jllm.tensor.DType;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** convert quantize on the trained aidreams260K Llama, and what reads its directories: generate, convert hf, finetune, merge-lora. */
class QuantizeCommandTest {
    @TempDir
    static Path shared;
    private static Path model;

    @BeforeAll
    static void convert() {
        model = shared.resolve("aidreams");
        var r = run("convert", "llama2c", "--checkpoint", "src/test/resources/llama2c/aidreams260K.bin",
                "--tokenizer", "src/test/resources/llama2c/tok512.bin", "--out", model.toString());
        assertEquals(0, r.rc(), r.err());
    }

    private static String greedy(Path dir) {
        var g = run("generate", "--model", dir.toString(), "--prompt", "Once upon a time", "--temperature", "0", "--max-new-tokens", "40");
        assertEquals(0, g.rc(), g.err());
        return g.out();
    }

    @Test
    void blocksRoundTripThroughTheDirectory() throws Exception {
        Path q = shared.resolve("q8");
        var r = run("convert", "quantize", "--model", model.toString(), "--dtype", "q8_0", "--out", q.toString());
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains("weights: q8_0") && r.out().contains("kept in float32 (rows not whole blocks): ")
                && r.out().contains("mlp.down_proj.weight"), r.out()); // intermediate size 172 is not a multiple of 32
        JsonNode cfg = new ObjectMapper().readTree(q.resolve("config.json").toFile());
        assertEquals("jllm", cfg.at("/quantization_config/quant_method").asText());
        assertEquals("q8_0", cfg.at("/quantization_config/weights").asText());
        try (var st = SafeTensors.open(q.resolve("model.safetensors"))) {
            var e = st.get("model.layers.0.self_attn.q_proj.weight");
            assertEquals("U8", e.dtype().name());
            assertArrayEquals(new long[] {64, 64 / 32 * 34}, e.shape());
        }
        assertTrue(Files.isRegularFile(q.resolve("tokenizer.json")));
        PretrainedModel fromDir = AutoModelForCausalLM.fromPretrained(q);
        PretrainedModel direct = AutoModelForCausalLM.fromPretrained(model, DType.Q8_0);
        for (var e : direct.asModule().namedParameters().entrySet()) {
            Tensor t = fromDir.asModule().namedParameters().get(e.getKey());
            assertEquals(e.getValue().dtype(), t.dtype(), e.getKey());
            if (t.dtype() == DType.Q8_0) assertArrayEquals((byte[]) e.getValue().toHostArray(), (byte[]) t.toHostArray(), e.getKey());
        }
        assertFalse(greedy(q).isBlank());

        // convert hf gives float32 back: the blocks' values, dequantized
        Path back = shared.resolve("back");
        assertEquals(0, run("convert", "hf", "--model", q.toString(), "--out", back.toString()).rc());
        PretrainedModel f32 = AutoModelForCausalLM.fromPretrained(back);
        Tensor w = f32.asModule().namedParameters().get("model.layers.1.mlp.up_proj.weight");
        assertEquals(DType.F32, w.dtype());
        assertArrayEquals((float[]) direct.asModule().namedParameters().get("model.layers.1.mlp.up_proj.weight").to(DType.F32).toHostArray(),
                (float[]) w.toHostArray());
    }

    @Test
    void bf16KeepsTheGreedyTextAndSaysItsType() throws Exception {
        Path b = shared.resolve("bf16");
        assertEquals(0, run("convert", "quantize", "--model", model.toString(), "--dtype", "bf16", "--out", b.toString()).rc());
        assertEquals("bfloat16", new ObjectMapper().readTree(b.resolve("config.json").toFile()).get("torch_dtype").asText());
        try (var st = SafeTensors.open(b.resolve("model.safetensors"))) {
            assertEquals("BF16", st.get("model.layers.0.mlp.gate_proj.weight").dtype().name());
            assertEquals("F32", st.get("model.norm.weight").dtype().name());
        }
        assertEquals(greedy(model), greedy(b));
        // a bf16 directory loads into bf16 matrices by default (half the memory of float32), or widened when asked
        PretrainedModel kept = AutoModelForCausalLM.fromPretrained(b);
        assertEquals(DType.BF16, kept.asModule().namedParameters().get("model.layers.0.mlp.gate_proj.weight").dtype());
        assertEquals(DType.F32, kept.asModule().namedParameters().get("model.norm.weight").dtype());
        assertEquals(DType.F32, AutoModelForCausalLM.fromPretrained(b, DType.F32).asModule().namedParameters()
                .get("model.layers.0.mlp.gate_proj.weight").dtype());
    }

    @Test
    void qloraFinetunesAQuantizedBaseAndMergeIsRefused(@TempDir Path dir) throws Exception {
        Path q = dir.resolve("q4");
        assertEquals(0, run("convert", "quantize", "--model", model.toString(), "--dtype", "q4_0", "--out", q.toString()).rc());
        Path data = dir.resolve("pairs.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 8; i++) lines.add("{\"prompt\": \"Question " + i + ": what hums?\", \"response\": \" The gentle vectors hum.\"}");
        Files.write(data, lines);
        var f = run("finetune", "--model", model.toString(), "--dtype", "q4_0", "--data", data.toString(), "--out", dir.resolve("ft").toString(),
                "--progress", "plain", "--max-iters", "4", "--batch-size", "2", "--eval-interval", "4", "--eval-iters", "1",
                "--lora-r", "4", "--target-modules", "q_proj,v_proj");
        assertEquals(0, f.rc(), f.err() + f.out());
        Path adapter = dir.resolve("ft").resolve("adapter");
        assertTrue(Files.isRegularFile(adapter.resolve("adapter_model.safetensors")));
        var g = run("generate", "--model", q.toString(), "--adapter", adapter.toString(), "--temperature", "0", "--max-new-tokens", "5");
        assertEquals(0, g.rc(), g.err());
        var m = run("convert", "merge-lora", "--model", q.toString(), "--adapter", adapter.toString(), "--out", dir.resolve("merged").toString());
        assertEquals(1, m.rc(), m.out());
        assertTrue(m.err().contains("cannot merge into the q4_0 weight of") && m.err().contains("convert quantize"), m.err());
        assertFalse(Files.exists(dir.resolve("merged")));
        assertEquals(2, run("finetune", "--model", model.toString(), "--dtype", "int3", "--data", data.toString()).rc());
        assertEquals(2, run("convert", "quantize", "--model", model.toString(), "--dtype", "q5_k", "--out", dir.resolve("x").toString()).rc());
    }
}
