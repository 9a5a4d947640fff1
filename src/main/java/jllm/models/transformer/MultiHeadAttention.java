package jllm.models.transformer;

import jllm.nn.Dropout;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.tensor.Tensor;

import java.util.Arrays;

/**
 * The seed's {@code MultiHeadAttention(args, is_causal)}: bias-free projections {@code wq, wk, wv,
 * wo}, scores {@code q k^T / sqrt(head_dim)}, for a causal one plus the registered buffer
 * {@code mask} [1, 1, max_seq_len, max_seq_len] (-inf above the diagonal, 0 elsewhere), softmax,
 * {@code attn_dropout}, the weighted sum of values, {@code wo} and {@code resid_dropout}.
 */
public class MultiHeadAttention extends Module {
    public final int nLocalHeads;
    public final int headDim;
    public final boolean isCausal;
    private final Linear wq;
    private final Linear wk;
    private final Linear wv;
    private final Linear wo;
    private final Dropout attnDropout;
    private final Dropout residDropout;

    public MultiHeadAttention(ModelArgs args, boolean isCausal) {
        int modelParallelSize = 1;
        this.nLocalHeads = args.nHeads() / modelParallelSize;
        this.headDim = args.dim() / args.nHeads();
        this.wq = registerModule("wq", new Linear(args.dim(), args.nHeads() * headDim, false));
        this.wk = registerModule("wk", new Linear(args.dim(), args.nHeads() * headDim, false));
        this.wv = registerModule("wv", new Linear(args.dim(), args.nHeads() * headDim, false));
        this.wo = registerModule("wo", new Linear(args.nHeads() * headDim, args.dim(), false));
        this.attnDropout = registerModule("attn_dropout", new Dropout(args.dropout()));
        this.residDropout = registerModule("resid_dropout", new Dropout(args.dropout()));
        this.isCausal = isCausal;
        if (isCausal) {
            Tensor mask = Tensor.full(new int[] {1, 1, args.maxSeqLen(), args.maxSeqLen()}, Double.NEGATIVE_INFINITY).triu(1);
            registerBuffer("mask", mask);
        }
    }

    public Linear wq() { return wq; }

    public Linear wk() { return wk; }

    public Linear wv() { return wv; }

    public Linear wo() { return wo; }

    /**
     * q: [B, Tq, dim]; k, v: [B, Tk, dim] (Tk = Tq for self-attention; the seed views k and v with
     * q's length, which is the same thing whenever it works). Returns [B, Tq, dim].
     */
    public Tensor forward(Tensor q, Tensor k, Tensor v) {
        if (q.dim() != 3 || k.dim() != 3 || v.dim() != 3) {
            throw new IllegalArgumentException("MultiHeadAttention expects q, k, v of shape [batch, seq_len, dim], got q "
                    + Arrays.toString(q.shape()) + ", k " + Arrays.toString(k.shape()) + ", v " + Arrays.toString(v.shape()));
        }
        int bsz = q.size(0), seqlen = q.size(1), kvlen = k.size(1);
        Tensor xq = wq.forward(q), xk = wk.forward(k), xv = wv.forward(v);
        xq = xq.view(bsz, seqlen, nLocalHeads, headDim).transpose(1, 2);
        xk = xk.view(bsz, kvlen, nLocalHeads, headDim).transpose(1, 2);
        xv = xv.view(bsz, kvlen, nLocalHeads, headDim).transpose(1, 2);

        Tensor scores = xq.matmul(xk.transpose(2, 3)).div(Math.sqrt(headDim));
        if (isCausal) {
            Tensor mask = buffer("mask");
            if (seqlen > mask.size(2) || kvlen != seqlen) {
                throw new IllegalArgumentException("causal attention over " + seqlen + " queries and " + kvlen
                        + " keys: needs equal lengths of at most max_seq_len=" + mask.size(2));
            }
            scores = scores.add(mask.slice(2, 0, seqlen).slice(3, 0, seqlen));
        }
        scores = scores.softmax(-1);
        scores = attnDropout.forward(scores);
        Tensor output = scores.matmul(xv);
        output = output.transpose(1, 2).contiguous().view(bsz, seqlen, -1);
        output = wo.forward(output);
        return residDropout.forward(output);
    }
}
