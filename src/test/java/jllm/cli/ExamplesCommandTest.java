package jllm.cli;

import jllm.testing.TestDevice;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** End-to-end: {@code jllm examples ...} through {@link Main#commandLine()}, stdout captured. */
class ExamplesCommandTest {
    record Run(int rc, String out, String err) {}

    /** Runs a command; out is stdout, err is picocli's error output followed by what the command printed to stderr. */
    static Run run(String... args) {
        PrintStream savedOut = System.out, savedErr = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream(), stderr = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
            var cl = Main.commandLine();
            cl.setErr(new PrintWriter(err, true));
            int rc = cl.execute(args);
            return new Run(rc, buf.toString(StandardCharsets.UTF_8), err + stderr.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    static void assertHas(String out, String... lines) {
        for (String l : lines) assertTrue(out.contains(l), "missing: " + l + "\n--- output ---\n" + out);
    }

    @Test
    void listsExamplesWithDescriptions() {
        Run r = run("examples");
        assertEquals(0, r.rc(), r.err());
        assertHas(r.out(), "Examples (run one with: jllm examples NAME):");
        for (var e : ExamplesCommand.EXAMPLES) {
            assertTrue(r.out().lines().anyMatch(l -> l.matches("  " + java.util.regex.Pattern.quote(e.name()) + " {2,}"
                    + java.util.regex.Pattern.quote(e.description()))), "missing the line of " + e.name() + ":\n" + r.out());
        }
        assertEquals(ExamplesCommand.EXAMPLES.size() + 1, r.out().strip().split("\n").length);
        var names = new HashSet<String>();
        for (var e : ExamplesCommand.EXAMPLES) assertTrue(names.add(e.name()), "duplicate example " + e.name());
    }

    @Test
    void unknownExampleIsAUsageError() {
        Run r = run("examples", "nope");
        assertEquals(2, r.rc());
        assertHas(r.err(), "Unknown example 'nope'. Available: buffers, transformer");
    }

    @Test
    void buffersOnCpu() {
        Run r = run("examples", "buffers");
        assertEquals(0, r.rc(), r.err());
        String o = r.out().replace("\r", "");
        assertHas(o,
                "[[[-0.4519,  0.2216],", "[-0.5299, -0.1081]]", // without buffers: the seed's numbers
                "machine has an accelerator: false", "no accelerator is available here: cuda:0: ", "using device: cpu",
                "W_query.weight.device: cpu\nmask.device: cpu",
                "Expected all tensors to be on the same device",
                "[[[0.4772, 0.1064],", "[0.5077, 0.3494]]", // with buffer (seed: 0.1063 / 0.3493 from unrounded weights)
                "ca_without_buffer.stateDict(): [W_query.weight, W_key.weight, W_value.weight]  (no mask)",
                "ca_with_buffer.stateDict(): [mask, W_query.weight, W_key.weight, W_value.weight]",
                "  mask: tensor([[0., 1.,",
                "-> the 2s were restored", "-> still 1s");
        String restored = o.substring(o.indexOf("loaded into a new CausalAttentionWithBuffer"), o.indexOf("-> the 2s were restored"));
        assertHas(restored, "tensor([[0., 2., 2., 2., 2., 2.],");
        String notRestored = o.substring(o.indexOf("loaded into a new CausalAttentionWithoutBuffers"), o.indexOf("-> still 1s"));
        assertHas(notRestored, "tensor([[0., 1., 1., 1., 1., 1.],");
        assertTrue(!notRestored.contains("2.0000"), notRestored);
    }

    @Test
    void buffersOnAnAcceleratorShowsTheFailureAndTheFix() {
        TestDevice.install();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BuffersExample.run(new PrintStream(buf, true, StandardCharsets.UTF_8), TestDevice.DEVICE);
        String o = buf.toString(StandardCharsets.UTF_8).replace("\r", "");
        assertHas(o, "machine has an accelerator: true", "using device: test:0",
                "W_query.weight.device: test:0\nmask.device: cpu",
                "ca_without_buffer(batch) fails: Expected all tensors to be on the same device",
                "Moving it by hand:\nmask.device: test:0",
                "device='test:0'",
                "ca_with_buffer.to(test:0)\nW_query.weight.device: test:0\nmask.device: test:0",
                "-> the 2s were restored", "-> still 1s");
    }

    @Test
    void transformerDemo() {
        Run r = run("examples", "transformer");
        assertEquals(0, r.rc(), r.err());
        String o = r.out().replace("\r", "");
        assertHas(o, "number of parameters: 13.00M (13,000,704)",
                "Transformer(\n  (transformer): ModuleDict(\n    (wte): Embedding(10000, 256)",
                "(0-5): 6 x EncoderLayer(", "(0-5): 6 x DecoderLayer(", "(mask_attention): MultiHeadAttention(",
                "  (lm_head): Linear(in_features=256, out_features=10000, bias=False)\n)",
                "########## Training ##########\nidx torch.Size([2, 128])\ntok_emb torch.Size([2, 128, 256])",
                "Training logits shape: torch.Size([2, 128, 10000])",
                "########## Inference ##########",
                "Inference logits shape: torch.Size([2, 1, 10000])", "loss: None");
        Matcher m = Pattern.compile("\nloss: (\\d+\\.\\d+) \\(ln\\(vocab_size\\)").matcher(o);
        assertTrue(m.find(), o);
        double loss = Double.parseDouble(m.group(1));
        assertEquals(Math.log(10000), loss, 0.3, "an untrained model guesses uniformly");
    }
}
