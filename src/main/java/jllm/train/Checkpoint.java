package jllm.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import jllm.nn.Module;
import jllm.optim.Optimizer;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A training checkpoint: one directory holding
 * <ul>
 *   <li>{@code config.json}: the {@link TrainConfig}, model section included;</li>
 *   <li>{@code model.safetensors}: the model's state dict;</li>
 *   <li>{@code optimizer.safetensors}: the optimizer's state dict ({@link Optimizer#save});</li>
 *   <li>{@code trainer_state.json}: {@code iter_num}, {@code best_val_loss}, the state of every
 *       generator the run uses ({@code rng_states}: name to array of longs, see
 *       {@link jllm.tensor.Generator#getState()}) and the batch source's position
 *       ({@code data_state}).</li>
 * </ul>
 *
 * <p>A checkpoint is written as a whole: into a hidden temporary directory next to the target,
 * which then replaces the target by renames. A failure while writing leaves the previous
 * checkpoint as it was. Because a non-empty directory cannot be renamed over another, the swap
 * is two renames (old aside, new in); a crash between them leaves the old checkpoint under a
 * hidden backup name, which {@link #recover(Path)} (called by every load and save) puts back.
 */
public final class Checkpoint {
    public static final String CONFIG = "config.json";
    public static final String MODEL = "model.safetensors";
    public static final String OPTIMIZER = "optimizer.safetensors";
    public static final String STATE = "trainer_state.json";
    /** Names of the checkpoint directories inside out_dir. */
    public static final String LAST = "ckpt_last", BEST = "ckpt_best";
    /** Names of the generators in {@link State#rngStates()}. */
    public static final String RNG_DEFAULT = "default", RNG_BATCH = "batch";

    static final int FORMAT_VERSION = 1;
    private static final ObjectMapper JSON = jllm.io.StrictJson.files().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String TMP = ".tmp-", OLD = ".old-";

    private Checkpoint() {}

    /**
     * The trainer's progress. {@code iterNum}: the next iteration to run (the model has had
     * {@code iterNum} updates); {@code rngStates}: generator name to its state; {@code dataState}:
     * the batch source's position (empty for random sampling).
     */
    public record State(long iterNum, double bestValLoss, Map<String, long[]> rngStates, Map<String, Object> dataState) {
        public State {
            if (iterNum < 0) throw new IllegalArgumentException("iter_num must be >= 0, got " + iterNum);
            rngStates = Collections.unmodifiableMap(new LinkedHashMap<>(rngStates == null ? Map.of() : rngStates));
            dataState = Collections.unmodifiableMap(new LinkedHashMap<>(dataState == null ? Map.of() : dataState));
        }
    }

    /** A test hook called after each step of {@link #save}, with the step's name. */
    @FunctionalInterface
    interface Hook {
        void after(String step) throws IOException;
    }

    /** Writes a complete checkpoint to {@code dir}, replacing the one there only once all files are written. */
    public static void save(Path dir, TrainConfig config, Module model, Optimizer optimizer, State state) throws IOException {
        save(dir, config, model, optimizer, state, step -> {});
    }

    static void save(Path dir, TrainConfig config, Module model, Optimizer optimizer, State state, Hook hook) throws IOException {
        dir = dir.toAbsolutePath().normalize();
        Path parent = dir.getParent();
        Files.createDirectories(parent);
        recover(dir);
        String name = dir.getFileName().toString();
        Path tmp = parent.resolve("." + name + TMP + System.nanoTime());
        Path old = null;
        boolean done = false;
        try {
            Files.createDirectory(tmp);
            writeDurably(tmp.resolve(CONFIG), config.toJson() + "\n");
            hook.after(CONFIG);
            model.save(tmp.resolve(MODEL));
            hook.after(MODEL);
            optimizer.save(tmp.resolve(OPTIMIZER));
            hook.after(OPTIMIZER);
            writeDurably(tmp.resolve(STATE), stateJson(state));
            hook.after(STATE);
            forceDir(tmp);
            if (Files.exists(dir)) {
                old = parent.resolve("." + name + OLD + System.nanoTime());
                Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
                hook.after("swap");
            }
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            forceDir(parent);
            done = true;
        } finally {
            if (!done) {
                try {
                    deleteTree(tmp);
                    if (old != null && !Files.exists(dir)) Files.move(old, dir, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException | RuntimeException cleanup) {
                    // the original failure matters more; recover() finishes the job on the next load or save
                }
            }
        }
        if (old != null) deleteTree(old);
    }

    /**
     * The writer's repair (called by {@link #save}; readers use {@link #readable}) of a crash during
     * {@link #save}: when {@code dir} is missing but a
     * complete backup of it exists, the backup is renamed back; leftover temporary and backup
     * directories are removed. Returns whether {@code dir} now holds a complete checkpoint.
     */
    public static boolean recover(Path dir) throws IOException {
        dir = dir.toAbsolutePath().normalize();
        Path parent = dir.getParent();
        if (parent == null || !Files.isDirectory(parent)) return false;
        String name = dir.getFileName().toString();
        List<Path> tmps = new ArrayList<>(), olds = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, "." + name + ".*")) {
            for (Path p : ds) {
                String f = p.getFileName().toString();
                if (f.startsWith("." + name + TMP)) tmps.add(p);
                else if (f.startsWith("." + name + OLD)) olds.add(p);
            }
        }
        olds.sort(Comparator.comparing(Checkpoint::suffix).reversed()); // newest first
        if (!Files.exists(dir)) {
            for (Path o : olds) {
                if (isComplete(o)) {
                    Files.move(o, dir, StandardCopyOption.ATOMIC_MOVE);
                    forceDir(parent);
                    break;
                }
            }
        }
        for (Path p : tmps) deleteTree(p);
        for (Path p : olds) deleteTree(p);
        return isComplete(dir);
    }

    /**
     * Where the checkpoint {@code dir} can be read now, without changing anything on disk (readers
     * such as {@code info} and {@code sample} run while a writer saves, and must never delete or
     * rename its files): {@code dir} itself when complete, else, when a save was caught between
     * moving the old checkpoint aside and moving the new one in, the newest complete backup; null
     * when there is none.
     */
    public static Path readable(Path dir) throws IOException {
        if (isComplete(dir)) return dir;
        Path abs = dir.toAbsolutePath().normalize(), parent = abs.getParent();
        if (parent == null || !Files.isDirectory(parent) || Files.exists(abs)) return null;
        String name = abs.getFileName().toString();
        List<Path> olds = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, "." + name + OLD + "*")) {
            for (Path p : ds) olds.add(p);
        }
        olds.sort(Comparator.comparing(Checkpoint::suffix).reversed()); // newest first
        for (Path o : olds) if (isComplete(o)) return o;
        return null;
    }

    private static long suffix(Path p) {
        String f = p.getFileName().toString();
        try {
            return Long.parseLong(f.substring(f.lastIndexOf('-') + 1));
        } catch (NumberFormatException e) {
            return Long.MIN_VALUE;
        }
    }

    /** Whether all four files of a checkpoint are present. */
    /** " (ckpt_best lacks model.safetensors; ...)" for the incomplete checkpoint directories of an out_dir, else "". */
    public static String incompleteIn(Path outDir) {
        List<String> out = new ArrayList<>();
        for (String name : new String[] {BEST, LAST}) {
            Path d = outDir.resolve(name);
            if (Files.isDirectory(d)) out.add(d + " lacks " + String.join(", ", missingFiles(d)));
        }
        return out.isEmpty() ? "" : " (" + String.join("; ", out) + ")";
    }

    /** The files a complete checkpoint has that dir lacks. */
    public static List<String> missingFiles(Path dir) {
        List<String> out = new ArrayList<>();
        for (String f : List.of(CONFIG, MODEL, OPTIMIZER, STATE)) if (!Files.isRegularFile(dir.resolve(f))) out.add(f);
        return out;
    }

    public static boolean isComplete(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG)) && Files.isRegularFile(dir.resolve(MODEL))
                && Files.isRegularFile(dir.resolve(OPTIMIZER)) && Files.isRegularFile(dir.resolve(STATE));
    }

    /**
     * Loads model weights (strictly), optimizer state and trainer state from {@code dir}; returns
     * the trainer state (the caller restores generators and data position from it).
     */
    public static State load(Path dir, Module model, Optimizer optimizer) throws IOException {
        dir = requireCheckpoint(dir);
        State state = readState(dir);
        Path modelFile = dir.resolve(MODEL);
        try {
            model.load(modelFile);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(modelFile + ": " + e.getMessage(), e);
        }
        optimizer.load(dir.resolve(OPTIMIZER));
        return state;
    }

    /** The config a checkpoint was written with (its model section tells the factory what to build). */
    public static TrainConfig readConfig(Path dir) throws IOException {
        return TrainConfig.load(requireCheckpoint(dir).resolve(CONFIG));
    }

    /** The trainer state of a checkpoint, without touching model or optimizer. */
    public static State readState(Path dir) throws IOException {
        Path f = requireCheckpoint(dir).resolve(STATE);
        JsonNode root;
        try {
            root = JSON.readTree(f.toFile());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(f + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        try {
            return parseState(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(f + ": " + e.getMessage(), e);
        }
    }

    /** The directory to read {@code dir}'s checkpoint from ({@link #readable}), or an error naming what is missing. */
    private static Path requireCheckpoint(Path dir) throws IOException {
        Path r = readable(dir);
        if (r != null) return r;
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "no checkpoint directory");
        for (String f : List.of(CONFIG, MODEL, OPTIMIZER, STATE)) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new NoSuchFileException(dir.resolve(f).toString(), null, "incomplete checkpoint: missing " + f);
            }
        }
        return dir;
    }

    static String stateJson(State s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format_version", FORMAT_VERSION);
        m.put("iter_num", s.iterNum());
        m.put("best_val_loss", s.bestValLoss());
        m.put("rng_states", s.rngStates());
        m.put("data_state", s.dataState());
        try {
            return JSON.writeValueAsString(m) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot encode trainer state (data_state must be JSON-friendly): " + e.getOriginalMessage(), e);
        }
    }

    static State parseState(JsonNode root) {
        if (!root.isObject()) throw new IllegalArgumentException("trainer state must be a JSON object");
        JsonNode v = root.get("format_version");
        if (v == null || !v.canConvertToInt() || v.asInt() != FORMAT_VERSION) {
            throw new IllegalArgumentException("unsupported trainer state format_version " + v + " (expected " + FORMAT_VERSION + ")");
        }
        JsonNode it = root.get("iter_num");
        if (it == null || !it.isIntegralNumber() || it.asLong() < 0) throw new IllegalArgumentException("'iter_num' must be an integer >= 0, got " + it);
        JsonNode best = root.get("best_val_loss");
        if (best == null || !best.isNumber()) throw new IllegalArgumentException("'best_val_loss' must be a number, got " + best);
        Map<String, long[]> rng = new LinkedHashMap<>();
        JsonNode rs = root.get("rng_states");
        if (rs != null && !rs.isNull()) {
            if (!rs.isObject()) throw new IllegalArgumentException("'rng_states' must be an object of name -> array of integers");
            for (Iterator<Map.Entry<String, JsonNode>> i = rs.fields(); i.hasNext(); ) {
                Map.Entry<String, JsonNode> e = i.next();
                JsonNode a = e.getValue();
                if (!a.isArray()) throw new IllegalArgumentException("rng_states." + e.getKey() + " must be an array of integers");
                long[] s = new long[a.size()];
                for (int k = 0; k < s.length; k++) {
                    JsonNode x = a.get(k);
                    if (!x.isIntegralNumber() || !x.canConvertToLong()) {
                        throw new IllegalArgumentException("rng_states." + e.getKey() + "[" + k + "] must be a 64-bit integer, got " + x);
                    }
                    s[k] = x.asLong();
                }
                rng.put(e.getKey(), s);
            }
        }
        Map<String, Object> data = new LinkedHashMap<>();
        JsonNode ds = root.get("data_state");
        if (ds != null && !ds.isNull()) {
            if (!ds.isObject()) throw new IllegalArgumentException("'data_state' must be an object");
            @SuppressWarnings("unchecked")
            Map<String, Object> d = JSON.convertValue(ds, Map.class);
            data.putAll(d);
        }
        return new State(it.asLong(), best.asDouble(), rng, data);
    }

    // ------------------------------------------------------------------ files

    private static void writeDurably(Path file, String text) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            var buf = java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
            while (buf.hasRemaining()) ch.write(buf);
            ch.force(true);
        }
    }

    /** Makes renames in a directory durable where the platform allows fsync on a directory. */
    private static void forceDir(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // not supported on every platform (Windows); the rename is still atomic
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> s = Files.walk(root)) {
            List<Path> all = s.sorted(Comparator.reverseOrder()).toList();
            for (Path p : all) Files.deleteIfExists(p);
        }
    }
}
