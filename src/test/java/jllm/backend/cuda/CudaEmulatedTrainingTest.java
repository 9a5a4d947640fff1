package jllm.backend.cuda;

import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.optim.AdamW;
import jllm.tensor.Device;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.backend.Backends;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A small GPT trained for two AdamW steps on the CUDA backend with its kernels emulated on the host
 * ({@link HostKernelEmulator}), beside the same model on the CPU: the losses and the parameters must
 * agree. This is the whole stack (modules, autograd, fused ops, optimizer, buffers moving with
 * {@code to(device)}) going through CudaBackend and the real kernel sources. The same test runs on
 * {@code cuda:0} where a GPU is (skipped elsewhere): the GPT training parity check of gpu_check.sh.
 */
class CudaEmulatedTrainingTest {
    @ParameterizedTest
    @ValueSource(strings = {"cudaemu:0", "cuda:0"})
    void aTinyGptTrainsLikeOnTheCpu(String spec) {
        Device dev = usable(spec);
        GPTConfig cfg = new GPTConfig(16, 64, 1, 4, 32);
        GPT cpu = new GPT(cfg, new Generator(0)), emu = new GPT(cfg, new Generator(0));
        emu.to(dev);
        assertEquals(dev, emu.lmHead.weight().device());
        AdamW oc = new AdamW(cpu.parameters(), 1e-2), oe = new AdamW(emu.parameters(), 1e-2);
        Generator g = new Generator(7);
        for (int step = 0; step < 2; step++) {
            Tensor idx = Tensor.randint(0, 64, new int[] {2, 8}, g), tgt = Tensor.randint(0, 64, new int[] {2, 8}, g);
            Tensor lc = cpu.forward(idx, tgt).loss(), le = emu.forward(idx.to(dev), tgt.to(dev)).loss();
            assertEquals(dev, le.device());
            assertEquals(lc.item(), le.cpu().item(), 1e-4, "loss at step " + step);
            oc.zeroGrad();
            oe.zeroGrad();
            lc.backward();
            le.backward();
            oc.step();
            oe.step();
        }
        Tensor wc = cpu.lmHead.weight(), we = emu.lmHead.weight().cpu();
        assertTrue(wc.allclose(we, 1e-4, 1e-5), "tied embedding after 2 AdamW steps");
    }

    /**
     * The KV-cache decode path on the device: prompt, then greedy steps of one token, logits compared with
     * the CPU's at each step; then TextGenerator on the device (it puts the token ids where the weights
     * are) gives the CPU's greedy tokens, with the cache and without.
     */
    @ParameterizedTest
    @ValueSource(strings = {"cudaemu:0", "cuda:0"})
    void kvCacheDecodeMatchesTheCpu(String spec) {
        Device dev = usable(spec);
        GPTConfig cfg = new GPTConfig(16, 64, 1, 4, 32);
        GPT cpu = new GPT(cfg, new Generator(3)), emu = new GPT(cfg, new Generator(3));
        emu.to(dev);
        try (var g = jllm.autograd.Grad.off()) {
            var cc = cpu.newCache(1, 16);
            var ce = emu.newCache(1, 16);
            Tensor in = Tensor.of(new long[] {5, 9, 1}, 1, 3);
            for (int step = 0; step < 5; step++) {
                Tensor lc = cpu.forward(in, cc, true), le = emu.forward(in.to(dev), ce, true);
                assertEquals(dev, le.device());
                assertTrue(lc.allclose(le.cpu(), 1e-4, 1e-5), "logits at decode step " + step);
                long next = (long) lc.reshape(-1).argmax().item();
                in = Tensor.of(new long[] {next}, 1, 1);
            }
        }
        Tensor prompt = Tensor.of(new long[] {5, 9, 1, 7}, 2, 2);
        for (boolean cache : new boolean[] {true, false}) {
            var opts = jllm.generate.TextGenerator.Options.of(6).temperature(0).useCache(cache);
            Tensor want = jllm.generate.TextGenerator.generate(cpu, prompt, opts), got = jllm.generate.TextGenerator.generate(emu, prompt, opts);
            org.junit.jupiter.api.Assertions.assertArrayEquals(want.toLongArray(), got.toLongArray(), "greedy tokens, cache " + cache);
        }
    }

    /** The device, once the emulation is installed or the GPU is found; the test is skipped, saying why, otherwise. */
    private static Device usable(String spec) {
        Device dev = Device.parse(spec);
        if (dev.type().equals(HostKernelEmulator.TYPE)) {
            Assumptions.assumeTrue(HostKernelEmulator.install(), () -> "host kernel emulation unavailable: " + HostKernelEmulator.reason());
        } else {
            Assumptions.assumeTrue(Backends.isAvailable(dev), () -> spec + " is not available: " + new CudaBackendProvider().unavailableReason(0));
        }
        return dev;
    }
}
