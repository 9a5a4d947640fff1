package jllm.tokenizer;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import com.hubspot.jinjava.el.ext.AdditionOperator;
import com.hubspot.jinjava.el.ext.ExtendedScanner;
import com.hubspot.jinjava.el.ext.NamedParameterOperator;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;

import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.tree.TreeBuilder;
import jinjava.de.odysseus.el.tree.impl.Builder;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.Parser.ExtensionPoint;
import jinjava.de.odysseus.el.tree.impl.Parser.ParseException;
import jinjava.de.odysseus.el.tree.impl.ast.AstBinary;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.de.odysseus.el.tree.impl.Scanner;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;
import jinjava.javax.el.ExpressionFactory;

/**
 * What jinjava needs to read chat templates as Python's Jinja does: binary {@code +} between
 * operands without spaces, keyword arguments whose value is a whole expression, the Python
 * {@code str} methods real templates call, and booleans printed as Python prints them.
 */
final class PythonJinja {

    private PythonJinja() {}

    /** A jinjava engine whose expressions parse {@code a+1} as addition and resolve Python's str methods first. */
    static Jinjava engine(JinjavaConfig.Builder config) {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new StrMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        JinjavaConfig cfg = config.withElResolver(resolver).withInterperterFactory(new InterpreterFactory() {
            @Override
            public JinjavaInterpreter newInstance(JinjavaInterpreter orig) {
                return new PyInterpreter(orig);
            }

            @Override
            public JinjavaInterpreter newInstance(Jinjava application, Context context, JinjavaConfig renderConfig) {
                return new PyInterpreter(application, new KnownNamesOnly(context), renderConfig);
            }
        }).build();
        Properties props = new Properties();
        props.setProperty(TreeBuilder.class.getName(), SyntaxBuilder.class.getName());
        ExpressionFactory factory = new ExpressionFactoryImpl(props, new TruthyTypeConverter());
        return new Jinjava(cfg) {
            @Override
            public ExpressionFactory getExpressionFactory() {
                return factory;
            }
        };
    }

    /**
     * A render's top context: a filter or test that does not exist is an error, as Jinja's
     * compiler reports it ("No filter named 'x'"); jinjava would give null and print nothing.
     * Loops and macros open child contexts whose lookups end here.
     */
    static final class KnownNamesOnly extends Context {
        KnownNamesOnly(Context parent) {
            super(parent);
        }

        @Override
        public com.hubspot.jinjava.lib.filter.Filter getFilter(String name) {
            var f = super.getFilter(name);
            if (f == null) throw new UnknownName("no filter named '" + name + "'");
            return f;
        }

        @Override
        public com.hubspot.jinjava.lib.exptest.ExpTest getExpTest(String name) {
            var t = super.getExpTest(name);
            if (t == null) throw new UnknownName("no test named '" + name + "'");
            return t;
        }
    }

    /** A template names a filter or test that does not exist. */
    static final class UnknownName extends RuntimeException {
        UnknownName(String message) {
            super(message);
        }
    }

    /** Prints booleans as Python does ({@code True}/{@code False}; jinjava prints Java's true/false). */
    static final class PyInterpreter extends JinjavaInterpreter {
        PyInterpreter(JinjavaInterpreter orig) {
            super(orig);
        }

        PyInterpreter(Jinjava application, Context context, JinjavaConfig config) {
            super(application, context, config);
        }

        @Override
        public String getAsString(Object object) {
            if (object instanceof Boolean b) return b ? "True" : "False";
            return super.getAsString(object);
        }
    }

    /** jinjava's syntax with {@link BinaryPlusScanner}; instantiated by JUEL by class name. */
    public static final class SyntaxBuilder extends ExtendedSyntaxBuilder {
        private static final long serialVersionUID = 1L;

        public SyntaxBuilder() {}

        public SyntaxBuilder(Feature... features) {
            super(features);
        }

        @Override
        protected Parser createParser(String expression) {
            return new ExtendedParser(this, expression) {
                @Override
                protected Scanner createScanner(String input) {
                    return new BinaryPlusScanner(input);
                }

                /**
                 * jinjava's postfix level (attribute, call, subscript, slice) with Python's
                 * extended slice {@code [start:stop:step]} (Qwen's templates walk
                 * {@code messages[::-1]}); the rest as jinjava parses it.
                 */
                @Override
                protected AstNode value() throws Scanner.ScanException, ParseException {
                    boolean lvalue = true;
                    AstNode v = nonliteral();
                    if (v == null) {
                        v = literal();
                        if (v == null) return null;
                        lvalue = false;
                    }
                    while (true) {
                        switch (getToken().getSymbol()) {
                            case DOT -> {
                                consumeToken();
                                String name = consumeToken(Scanner.Symbol.IDENTIFIER).getImage();
                                var dot = createAstDot(v, name, lvalue);
                                v = getToken().getSymbol() == Scanner.Symbol.LPAREN && context.isEnabled(Builder.Feature.METHOD_INVOCATIONS)
                                        ? createAstMethod(dot, params()) : dot;
                            }
                            case LBRACK -> {
                                consumeToken();
                                AstNode start = expr(false);
                                boolean strict = !context.isEnabled(Builder.Feature.NULL_PROPERTIES);
                                Scanner.Token next = consumeToken();
                                if (next.getSymbol() == Scanner.Symbol.COLON) {
                                    AstNode stop = expr(false);
                                    if (getToken().getSymbol() == Scanner.Symbol.COLON) {
                                        consumeToken();
                                        AstNode step = expr(false);
                                        consumeToken(Scanner.Symbol.RBRACK);
                                        v = new SteppedSlice(v, start, stop, step, lvalue, strict);
                                    } else {
                                        consumeToken(Scanner.Symbol.RBRACK);
                                        v = createAstRangeBracket(v, start, stop, lvalue, strict);
                                    }
                                } else if (next.getSymbol() == Scanner.Symbol.RBRACK) {
                                    var bracket = createAstBracket(v, start, lvalue, strict);
                                    v = getToken().getSymbol() == Scanner.Symbol.LPAREN && context.isEnabled(Builder.Feature.METHOD_INVOCATIONS)
                                            ? createAstMethod(bracket, params()) : bracket;
                                } else {
                                    fail(Scanner.Symbol.RBRACK);
                                }
                            }
                            default -> {
                                return v; // filters bind at the multiplicative level (natural operator precedence)
                            }
                        }
                    }
                }

                /**
                 * jinjava's additive level, except that a keyword argument's value is a whole
                 * expression: jinjava parses {@code f(n=xs|length - 1)} as {@code (n=xs|length) - 1}
                 * (Qwen's templates call {@code namespace(last_query_index=messages|length - 1)}).
                 */
                @Override
                protected AstNode add(boolean required) throws Scanner.ScanException, ParseException {
                    AstNode v = mul(required);
                    if (v == null) return null;
                    while (true) {
                        Scanner.Token t = getToken();
                        switch (t.getSymbol()) {
                            case PLUS -> {
                                consumeToken();
                                v = createAstBinary(v, mul(true), AdditionOperator.OP);
                            }
                            case MINUS -> {
                                consumeToken();
                                v = createAstBinary(v, mul(true), AstBinary.SUB);
                            }
                            case EXTENSION -> {
                                if (getExtensionHandler(t).getExtensionPoint() != ExtensionPoint.ADD) return v;
                                boolean keyword = t == NamedParameterOperator.TOKEN;
                                v = getExtensionHandler(consumeToken()).createAstNode(v, keyword ? expr(true) : mul(true));
                            }
                            default -> {
                                return v;
                            }
                        }
                    }
                }
            };
        }
    }

    /** Python's {@code seq[start:stop:step]} over a list (or any iterable) or a string; None parts take Python's defaults. */
    static final class SteppedSlice extends com.hubspot.jinjava.el.ext.AstRangeBracket {
        private final AstNode start, stop, step;

        SteppedSlice(AstNode base, AstNode start, AstNode stop, AstNode step, boolean lvalue, boolean strict) {
            super(base, start, stop, lvalue, strict, false);
            this.start = start;
            this.stop = stop;
            this.step = step;
        }

        @Override
        public Object eval(jinjava.de.odysseus.el.tree.Bindings bindings, ELContext context) {
            Object base = prefix.eval(bindings, context);
            if (base == null) return null;
            List<Object> items = new ArrayList<>();
            if (base instanceof CharSequence cs) cs.codePoints().forEach(c -> items.add(new String(Character.toChars(c))));
            else if (base instanceof Iterable<?> it) it.forEach(items::add);
            else if (base instanceof Object[] arr) items.addAll(java.util.Arrays.asList(arr));
            else throw new IllegalStateException("cannot slice a " + base.getClass().getSimpleName());
            int n = items.size();
            int st = step == null ? 1 : intOf(step.eval(bindings, context), 1);
            if (st == 0) throw new IllegalStateException("slice step cannot be zero");
            int lo, hi;
            if (st > 0) {
                lo = bound(start, bindings, context, 0, n, 0, n);
                hi = bound(stop, bindings, context, n, n, 0, n);
            } else {
                lo = bound(start, bindings, context, n - 1, n, -1, n - 1);
                hi = bound(stop, bindings, context, -1, n, -1, n - 1);
            }
            List<Object> out = new ArrayList<>();
            for (int i = lo; st > 0 ? i < hi : i > hi; i += st) out.add(items.get(i));
            if (base instanceof CharSequence) {
                StringBuilder sb = new StringBuilder();
                out.forEach(sb::append);
                return sb.toString();
            }
            return out;
        }

        /** An index as Python's slice resolves it: negative counts from the end, then clamped to [min, max]. */
        private static int bound(AstNode node, jinjava.de.odysseus.el.tree.Bindings b, ELContext c, int dflt, int n, int min, int max) {
            Object v = node == null ? null : node.eval(b, c);
            if (v == null) return dflt;
            int i = intOf(v, dflt);
            if (i < 0) i += n;
            return Math.max(min, Math.min(max, i));
        }

        private static int intOf(Object v, int dflt) {
            if (v == null) return dflt;
            if (v instanceof Number num) return (int) num.longValue();
            throw new IllegalStateException("slice indices must be integers, got " + v);
        }
    }

    /**
     * jinjava scans {@code +} followed by a digit as a unary operator wherever it stands, so
     * {@code g(1+1)} and {@code loop.index0+1} fail to parse. After an operand (a literal, a name,
     * a closing bracket) it is the binary plus, as in Python.
     */
    static final class BinaryPlusScanner extends ExtendedScanner {
        BinaryPlusScanner(String input) {
            super(input);
        }

        @Override
        protected Token nextEval() throws ScanException {
            if (getInput().charAt(getPosition()) == '+' && afterOperand()) return fixed(Symbol.PLUS);
            return super.nextEval();
        }

        /** The token before this one (the scanner has not replaced it yet) ends an operand. */
        private boolean afterOperand() {
            Token prev = getToken();
            if (prev == null) return false;
            return switch (prev.getSymbol()) {
                case INTEGER, FLOAT, STRING, IDENTIFIER, TRUE, FALSE, NULL, RPAREN, RBRACK -> true;
                default -> false;
            };
        }
    }

    /**
     * Python's str methods that chat templates call ({@code startswith}, {@code endswith},
     * {@code strip}, {@code lstrip}, {@code rstrip}, {@code upper}, {@code lower}, {@code split},
     * {@code replace}, {@code title}, {@code capitalize}) with Python's arguments and results.
     * Java's own String methods of the same name (strip, split, replace) differ: split takes a
     * regex and keeps no Python whitespace rule, strip takes no characters.
     */
    static final class StrMethods extends ELResolver {
        @Override
        public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
            if (!(base instanceof String s) || method == null) return null;
            Object[] p = params == null ? new Object[0] : params;
            Object r = call(s, method.toString(), p);
            if (r != NOT_MINE) context.setPropertyResolved(true);
            return r == NOT_MINE ? null : r;
        }

        private static final Object NOT_MINE = new Object();

        static Object call(String s, String name, Object[] p) {
            return switch (name) {
                case "startswith" -> { arity(name, p, 1, 3); yield affix(s, p, true); }
                case "endswith" -> { arity(name, p, 1, 3); yield affix(s, p, false); }
                case "strip" -> { arity(name, p, 0, 1); yield strip(s, chars(p), true, true); }
                case "lstrip" -> { arity(name, p, 0, 1); yield strip(s, chars(p), true, false); }
                case "rstrip" -> { arity(name, p, 0, 1); yield strip(s, chars(p), false, true); }
                case "upper" -> { arity(name, p, 0, 0); yield s.toUpperCase(Locale.ROOT); }
                case "lower" -> { arity(name, p, 0, 0); yield s.toLowerCase(Locale.ROOT); }
                case "title" -> { arity(name, p, 0, 0); yield title(s); }
                case "capitalize" -> { arity(name, p, 0, 0); yield capitalize(s); }
                case "split" -> { arity(name, p, 0, 2); yield split(s, p.length > 0 ? p[0] : null, p.length > 1 ? toInt(p[1]) : -1); }
                case "replace" -> { arity(name, p, 2, 3); yield replace(s, str(p[0]), str(p[1]), p.length > 2 ? toInt(p[2]) : -1); }
                default -> NOT_MINE;
            };
        }

        private static void arity(String name, Object[] p, int min, int max) {
            if (p.length < min || p.length > max)
                throw new IllegalStateException("str." + name + "() takes " + (min == max ? "" + min : min + " to " + max) + " arguments (" + p.length + " given)");
        }

        private static String chars(Object[] p) {
            return p.length == 0 || p[0] == null ? null : str(p[0]);
        }

        private static String str(Object o) {
            if (o instanceof String s) return s;
            throw new IllegalStateException("expected a string argument, got " + (o == null ? "None" : o.getClass().getSimpleName()));
        }

        private static int toInt(Object o) {
            if (o instanceof Number n) return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, n.longValue()));
            throw new IllegalStateException("expected an integer argument, got " + o);
        }

        /** startswith/endswith(prefix or tuple of prefixes[, start[, end]]), with Python's index clamping. */
        private static boolean affix(String s, Object[] p, boolean start) {
            int n = s.length();
            int from = p.length > 1 && p[1] != null ? clampIndex(toInt(p[1]), n) : 0;
            int to = p.length > 2 && p[2] != null ? clampIndex(toInt(p[2]), n) : n;
            if (from > to) return false;
            String sub = s.substring(from, to);
            Collection<?> options = p[0] instanceof Collection<?> c ? c : List.of(str(p[0]));
            for (Object o : options) {
                String a = str(o);
                if (start ? sub.startsWith(a) : sub.endsWith(a)) return true;
            }
            return false;
        }

        private static int clampIndex(int i, int n) {
            return i < 0 ? Math.max(0, n + i) : Math.min(i, n);
        }

        /** Python's str.isspace() for one char: Java's whitespace, the Unicode space separators and NEL. */
        static boolean isSpace(int c) {
            return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85;
        }

        private static String strip(String s, String chars, boolean left, boolean right) {
            int a = 0, b = s.length();
            if (left) while (a < b && strips(s.charAt(a), chars)) a++;
            if (right) while (b > a && strips(s.charAt(b - 1), chars)) b--;
            return s.substring(a, b);
        }

        private static boolean strips(char c, String chars) {
            return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
        }

        /** str.split(sep=None, maxsplit=-1): no sep splits on runs of whitespace and drops empty ends. */
        private static List<String> split(String s, Object sepArg, int maxsplit) {
            List<String> out = new ArrayList<>();
            if (sepArg == null) {
                int i = 0, n = s.length();
                while (true) {
                    while (i < n && isSpace(s.charAt(i))) i++;
                    if (i == n) break;
                    if (maxsplit >= 0 && out.size() == maxsplit) {
                        out.add(s.substring(i)); // Python keeps the rest's trailing whitespace
                        break;
                    }
                    int j = i;
                    while (j < n && !isSpace(s.charAt(j))) j++;
                    out.add(s.substring(i, j));
                    i = j;
                }
                return out;
            }
            String sep = str(sepArg);
            if (sep.isEmpty()) throw new IllegalStateException("str.split(): empty separator");
            int i = 0;
            while (maxsplit < 0 || out.size() < maxsplit) {
                int j = s.indexOf(sep, i);
                if (j < 0) break;
                out.add(s.substring(i, j));
                i = j + sep.length();
            }
            out.add(s.substring(i));
            return out;
        }

        /** str.replace(old, new, count=-1); an empty old inserts new before every char and at the end. */
        private static String replace(String s, String old, String rep, int count) {
            if (count < 0) count = Integer.MAX_VALUE;
            StringBuilder sb = new StringBuilder();
            if (old.isEmpty()) {
                int done = 0;
                for (int i = 0; i < s.length(); i++) {
                    if (done++ < count) sb.append(rep);
                    sb.append(s.charAt(i));
                }
                if (done < count) sb.append(rep);
                return sb.toString();
            }
            int i = 0;
            for (int done = 0; done < count; done++) {
                int j = s.indexOf(old, i);
                if (j < 0) break;
                sb.append(s, i, j).append(rep);
                i = j + old.length();
            }
            return sb.append(s, i, s.length()).toString();
        }

        private static boolean cased(int c) {
            return Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
        }

        /** str.title(): a cased char after an uncased one starts a word (so "they're" -> "They'Re", as Python). */
        private static String title(String s) {
            StringBuilder sb = new StringBuilder(s.length());
            boolean prevCased = false;
            for (int i = 0; i < s.length(); ) {
                int c = s.codePointAt(i);
                i += Character.charCount(c);
                if (cased(c)) {
                    sb.append(prevCased ? new String(Character.toChars(c)).toLowerCase(Locale.ROOT) : titleCase(c));
                    prevCased = true;
                } else {
                    sb.appendCodePoint(c);
                    prevCased = false;
                }
            }
            return sb.toString();
        }

        private static String titleCase(int c) {
            return new String(Character.toChars(Character.toTitleCase(c)));
        }

        /** str.capitalize(): first char title-cased, the rest lower-cased. */
        private static String capitalize(String s) {
            if (s.isEmpty()) return s;
            int c = s.codePointAt(0);
            return titleCase(c) + s.substring(Character.charCount(c)).toLowerCase(Locale.ROOT);
        }

        @Override
        public Object getValue(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public Class<?> getType(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public void setValue(ELContext context, Object base, Object property, Object value) {}

        @Override
        public boolean isReadOnly(ELContext context, Object base, Object property) {
            return true;
        }

        @Override
        public Iterator<java.beans.FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
            return null;
        }

        @Override
        public Class<?> getCommonPropertyType(ELContext context, Object base) {
            return null;
        }
    }
}
