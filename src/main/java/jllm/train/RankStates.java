package jllm.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.distributed.ProcessGroup;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Per-rank pieces of a data-parallel checkpoint: gathering them to rank 0, and picking a rank's own on resume. */
final class RankStates {
    private static final ObjectMapper JSON = jllm.io.StrictJson.files();

    private RankStates() {}

    static byte[] toBytes(long[] v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length);
        for (long x : v) b.putLong(x);
        return b.array();
    }

    static long[][] fromBytes(byte[] all, int world, int length) {
        ByteBuffer b = ByteBuffer.wrap(all);
        long[][] out = new long[world][length];
        for (int r = 0; r < world; r++) for (int i = 0; i < length; i++) out[r][i] = b.getLong();
        return out;
    }

    /** Every rank's JSON-friendly map, in rank order. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> gatherJson(ProcessGroup group, Map<String, Object> mine, String what) {
        String text;
        try {
            text = JSON.writeValueAsString(mine);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot encode " + what + " as JSON: " + e.getOriginalMessage(), e);
        }
        List<String> texts = group.allGather(text, what);
        List<Map<String, Object>> out = new ArrayList<>();
        for (int r = 0; r < texts.size(); r++) {
            try {
                out.add(JSON.readValue(texts.get(r), Map.class));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("rank " + r + " sent unreadable " + what + ": " + e.getOriginalMessage(), e);
            }
        }
        return out;
    }

    /** {@code state[key][rank]} as a map; empty when the state has no per-rank entries or none for this rank. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> rankEntry(Map<String, Object> state, String key, int rank, Path dir) {
        Object ranks = state.get(key);
        if (ranks == null) {
            if (!state.isEmpty()) {
                throw new IllegalArgumentException(dir.resolve(Checkpoint.STATE) + ": data_state was written by a single process "
                        + "but this run is data-parallel; its positions cannot be shared out among the ranks");
            }
            return Map.of();
        }
        if (!(ranks instanceof List<?> list)) {
            throw new IllegalArgumentException(dir.resolve(Checkpoint.STATE) + ": data_state." + key + " must be a list of objects");
        }
        if (rank >= list.size()) return Map.of();
        if (!(list.get(rank) instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(dir.resolve(Checkpoint.STATE) + ": data_state." + key + "[" + rank + "] must be an object");
        }
        return (Map<String, Object>) m;
    }
}
