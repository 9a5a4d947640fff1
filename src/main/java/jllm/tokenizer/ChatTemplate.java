package jllm.tokenizer;

import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;

/**
 * A Hugging Face chat template (Jinja), rendered with jinjava set up like transformers'
 * {@code apply_chat_template}: {@code trim_blocks} and {@code lstrip_blocks}, loop controls
 * ({@code break}/{@code continue}), {@code raise_exception(msg)}, {@code strftime_now(fmt)}, a
 * {@code tojson} filter that writes what Python's {@code json.dumps(ensure_ascii=False)} writes, and
 * the variables {@code messages}, {@code add_generation_prompt} and the special tokens
 * ({@code bos_token}, {@code eos_token}, ...).
 */
public final class ChatTemplate {

    /** One chat message; {@code role} is usually system, user or assistant. */
    public record Message(String role, String content) {
        public Message {
            Objects.requireNonNull(role, "role");
            Objects.requireNonNull(content, "content");
        }

        public static Message system(String content) {
            return new Message("system", content);
        }

        public static Message user(String content) {
            return new Message("user", content);
        }

        public static Message assistant(String content) {
            return new Message("assistant", content);
        }
    }

    /** A template that failed to render, or called {@code raise_exception}. */
    public static final class TemplateException extends IllegalArgumentException {
        public TemplateException(String message) {
            super(message);
        }
    }

    /** Thrown by raise_exception; jinjava records it as a render error, which render() rethrows. */
    private static final class Raised extends RuntimeException {
        Raised(String message) {
            super(message);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Jinjava JINJAVA = newJinjava();

    private final String source;

    public ChatTemplate(String source) {
        if (source == null || source.isEmpty()) throw new IllegalArgumentException("chat template is empty");
        // Jinja's default keep_trailing_newline=False drops one final newline of the template source.
        String src = source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
        checkTagsClosed(src);
        this.source = lstripBlocks(src);
    }

    /**
     * Every {@code {{}, {@code {%} and {@code {#} is closed, as Jinja's lexer requires ("unexpected
     * end of template"); jinjava would print an unclosed one as text. Quoted strings inside a tag
     * may hold the closing characters; {@code {% raw %}} blocks are text.
     */
    static void checkTagsClosed(String src) {
        int i = 0, n = src.length();
        while (i < n - 1) {
            char c = src.charAt(i), d = src.charAt(i + 1);
            if (c != '{' || (d != '{' && d != '%' && d != '#')) {
                i++;
                continue;
            }
            String close = d == '{' ? "}}" : d == '%' ? "%}" : "#}";
            int j = i + 2;
            char quote = 0;
            while (j < n - 1 && !(quote == 0 && src.startsWith(close, j))) {
                char x = src.charAt(j);
                if (d != '#') {
                    if (quote == 0 && (x == '\'' || x == '"')) quote = x;
                    else if (quote != 0 && x == '\\') j++;
                    else if (x == quote) quote = 0;
                }
                j++;
            }
            if (j >= n - 1) {
                int line = 1;
                for (int k = 0; k < i; k++) if (src.charAt(k) == '\n') line++;
                throw new TemplateException("chat template failed at line " + line + ": '" + src.substring(i, i + 2) + "' is never closed by '"
                        + close + "' (unexpected end of template)");
            }
            String tag = src.substring(i + 2, j).trim().replaceFirst("^-", "").replaceFirst("-$", "").trim();
            i = j + 2;
            if (d == '%' && tag.equals("raw")) { // text up to endraw
                int end = src.indexOf("endraw", i);
                if (end < 0) throw new TemplateException("chat template: {% raw %} is never closed by {% endraw %}");
                i = end;
            }
        }
    }

    private static final java.util.regex.Pattern LINE_START_BEFORE_TAG = java.util.regex.Pattern.compile("(?m)^[ \\t]+(?=\\{[%#](?!\\+))");

    /**
     * Jinja's lstrip_blocks, done on the source: spaces and tabs between the start of a line and a
     * block or comment tag are removed ({@code {%+} opts out). jinjava's own lstrip option also
     * eats whitespace before a tag in the middle of a line ("[assistant] {% endif %}" lost its
     * space), which Jinja keeps.
     */
    static String lstripBlocks(String src) {
        return LINE_START_BEFORE_TAG.matcher(src).replaceAll("").replace("{%+", "{%").replace("{#+", "{#");
    }

    static final int MAX_MACRO_DEPTH = 200;

    /** Limits for templates from untrusted files: the render's time, its output, and each range()/string/list. */
    static final long RENDER_TIMEOUT_MS = 2_000, MAX_OUTPUT_CHARS = 4 << 20;

    private static Jinjava newJinjava() {
        Jinjava j = PythonJinja.engine(JinjavaConfig.newBuilder()
                .withMaxOutputSize(MAX_OUTPUT_CHARS)
                .withMaxStringLength(MAX_OUTPUT_CHARS)
                .withRangeLimit(100_000)
                .withMaxListSize(100_000)
                .withMaxMapSize(100_000)
                .withTrimBlocks(true)
                .withLstripBlocks(false) // done on the source by lstripBlocks, as Jinja does it
                .withFailOnUnknownTokens(false) // undefined renders as "", as in Jinja
                // recursive macros work as in Jinja, to a depth where Python would long have given up
                .withEnableRecursiveMacroCalls(true)
                .withMaxMacroRecursionDepth(MAX_MACRO_DEPTH)
                // Jinja semantics jinjava keeps off by default for old HubSpot templates: "-}}" trims
                // after expressions too, "{%-"/"-%}" parse strictly, and + - * / bind as in Python.
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withUsePyishObjectMapper(true)
                        .build()));
        // only the template's own text: {% include %} / {% import %} must not read files or classpath resources
        j.setResourceLocator((name, encoding, interpreter) -> {
            throw new com.hubspot.jinjava.loader.ResourceNotFoundException("chat templates cannot include other files ('" + name + "')");
        });
        var ctx = j.getGlobalContext();
        try {
            // jinjava's range() under a per-render budget: jinjava has no loop limit and ignores interrupts
            ctx.registerFunction(new ELFunctionDefinition("", "range",
                    ChatTemplate.class.getDeclaredMethod("range", Object.class, Object[].class)));
            ctx.registerFunction(new ELFunctionDefinition("", "raise_exception",
                    ChatTemplate.class.getDeclaredMethod("raiseException", String.class)));
            ctx.registerFunction(new ELFunctionDefinition("", "strftime_now",
                    ChatTemplate.class.getDeclaredMethod("strftimeNow", String.class)));
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
        ctx.registerFilter(new ToJson());
        return j;
    }

    /** jinja2's sandbox MAX_RANGE: a longer range() is an error there (jinjava would cap it silently). */
    static final int MAX_RANGE = 100_000;

    /** A template that hits one of the render's limits. */
    static final class TemplateLimit extends IllegalStateException {
        TemplateLimit(String message) {
            super(message);
        }
    }

    /** The length Python's range(start, stop, step) would have; non-numbers count 0 (jinjava reports them). */
    private static long rangeLength(Object arg1, Object... args) {
        try {
            long start = 0, stop, step = 1;
            if (args == null || args.length == 0) {
                stop = ((Number) arg1).longValue();
            } else {
                start = ((Number) arg1).longValue();
                stop = ((Number) args[0]).longValue();
                if (args.length > 1 && args[1] != null) step = ((Number) args[1]).longValue();
            }
            if (step == 0) return 0;
            long span = step > 0 ? stop - start : start - stop;
            return span <= 0 ? 0 : (span + Math.abs(step) - 1) / Math.abs(step);
        } catch (ClassCastException | NullPointerException e) {
            return 0;
        }
    }

    /** Values range() may produce in one render: far beyond any real template, far below a runaway one. */
    static final long RANGE_BUDGET = 5_000_000;
    /** The render's budget; the caller sets it to -1 when it abandons the render, so the loops wind down. */
    private static final ThreadLocal<java.util.concurrent.atomic.AtomicLong> RANGE_LEFT = new ThreadLocal<>();

    /**
     * jinjava's range() counted against {@link #RANGE_BUDGET}; once spent (or the render
     * abandoned), every range() is empty, so nested loops finish at once and the render reports
     * it (the first time, as a render error).
     */
    public static List<Integer> range(Object arg1, Object... args) {
        long n = rangeLength(arg1, args);
        if (n > MAX_RANGE) {
            throw new TemplateLimit("range() of " + n + " values: the sandbox blocks ranges larger than " + MAX_RANGE + " (as Jinja's does)");
        }
        var left = RANGE_LEFT.get();
        if (left != null && left.get() <= 0) {
            if (left.compareAndSet(0, -1)) {
                throw new TemplateLimit("range() produced more than " + RANGE_BUDGET + " values in one render (a runaway loop?)");
            }
            return List.of();
        }
        List<Integer> r = com.hubspot.jinjava.lib.fn.Functions.range(arg1, args);
        if (left != null) left.updateAndGet(v -> v < 0 ? v : Math.max(0, v - r.size()));
        return r;
    }

    public static String raiseException(String message) {
        throw new Raised(message);
    }

    public static String strftimeNow(String format) {
        return StrftimeFormatter.format(ZonedDateTime.now(), format);
    }

    /** Python's json.dumps(x, ensure_ascii=False, indent=indent): ", " and ": " separators. */
    private static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            try {
                if (args.length > 0 && args[0] != null && !args[0].isBlank()) {
                    int indent = Integer.parseInt(args[0].trim());
                    DefaultPrettyPrinter pp = new DefaultPrettyPrinter(
                            Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER))
                            .withObjectIndenter(new DefaultIndenter(" ".repeat(indent), "\n"))
                            .withArrayIndenter(new DefaultIndenter(" ".repeat(indent), "\n"));
                    return JSON.writer(pp).writeValueAsString(var);
                }
                return pythonCompact(JSON.writeValueAsString(var));
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("tojson cannot serialise " + var + ": " + e.getOriginalMessage(), e);
            }
        }
    }

    /** Inserts Python's default separators (", ", ": ") into compact JSON, outside strings. */
    static String pythonCompact(String json) {
        StringBuilder sb = new StringBuilder(json.length() + 16);
        boolean inString = false;
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            sb.append(c);
            if (inString) {
                if (c == '\\') sb.append(json.charAt(++i));
                else if (c == '"') inString = false;
            } else if (c == '"') {
                inString = true;
            } else if (c == ',' || c == ':') {
                sb.append(' ');
            }
        }
        return sb.toString();
    }

    /**
     * Renders the template.
     *
     * @param specialTokens bos_token, eos_token, ... as template variables
     * @throws TemplateException naming the problem when rendering fails or the template raises
     */
    public String render(List<Message> messages, boolean addGenerationPrompt, Map<String, String> specialTokens) {
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (Message m : messages) {
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("role", m.role());
            mm.put("content", m.content());
            msgs.add(mm);
        }
        Map<String, Object> vars = new HashMap<>(specialTokens);
        vars.put("messages", msgs);
        vars.put("add_generation_prompt", addGenerationPrompt);
        RenderResult r = renderWithin(vars);
        for (TemplateError e : r.getErrors()) {
            Throwable root = rootCause(e.getException());
            boolean cycle = e.getMessage() != null && e.getMessage().startsWith("Max recursion limit of ");
            if (e.getSeverity() != TemplateError.ErrorType.FATAL && !(root instanceof Raised) && !cycle) continue;
            if (root instanceof Raised) throw new TemplateException("chat template raised an exception: " + root.getMessage());
            // our own checks say it plainly; jinjava's messages lose their wrapper's class name
            String what = root instanceof PythonJinja.UnknownName || root instanceof TemplateLimit ? root.getMessage()
                    : e.getMessage().replaceFirst("^InterpretException: ", "");
            String why = !(root instanceof PythonJinja.UnknownName || root instanceof TemplateLimit) && root != null && root.getMessage() != null
                    && !what.contains(root.getMessage()) ? ": " + root.getMessage() : "";
            throw new TemplateException("chat template failed at line " + e.getLineno() + ": " + what + why);
        }
        return r.getOutput();
    }

    /**
     * Renders on a daemon thread and waits at most {@link #RENDER_TIMEOUT_MS}: jinjava has no
     * iteration limit, and three nested loops of range(1000) would run for hours. A render that
     * does not finish is abandoned (its range() budget emptied so that its loops end, and
     * interrupted; the daemon thread cannot keep the JVM alive) and reported.
     */
    private RenderResult renderWithin(Map<String, Object> vars) {
        var budget = new java.util.concurrent.atomic.AtomicLong(RANGE_BUDGET);
        var task = new java.util.concurrent.FutureTask<>(() -> {
            RANGE_LEFT.set(budget);
            return JINJAVA.renderForResult(source, vars);
        });
        Thread t = Thread.ofPlatform().daemon().name("chat-template").start(task);
        try {
            return task.get(RENDER_TIMEOUT_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            budget.set(-1); // every later range() is empty: the abandoned render's loops end
            t.interrupt();
            throw new TemplateException("chat template did not finish rendering within " + RENDER_TIMEOUT_MS + " ms (a runaway loop?)");
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) throw re;
            throw new TemplateException("chat template failed: " + c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TemplateException("interrupted while rendering the chat template");
        }
    }

    private static Throwable rootCause(Throwable t) {
        if (t == null) return null;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t;
    }
}
