import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassFileVersion;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * Build step (run by Maven after the shaded jar is made): rewrites the jar's class files older than
 * Java 6 (major version < 50: picocli, which still targets Java 5, and parts of jinjava and slf4j)
 * as Java 8 class files (version 52) with the stack maps that version requires, generated from the
 * code as it is. Why: JDK 25's ahead-of-time cache skips such old classes ("Old class has been
 * linked"), and with them every jllm class that extends or implements one, so they are parsed and
 * verified by the old type-inferring verifier on every start. With them in the cache `jllm --help`
 * took 0.28-0.31 s of JVM time instead of 0.35-0.41 s. The instructions are not changed; a class
 * whose stack maps cannot be computed (a type it names is not in the jar) is kept as it was.
 *
 * <p>Usage: {@code java tools/build/RetargetOldClasses.java target/jllm.jar} (the jar is replaced
 * atomically).
 */
public final class RetargetOldClasses {

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: java RetargetOldClasses.java JAR");
            System.exit(2);
        }
        Path jar = Path.of(args[0]), tmp = jar.resolveSibling(jar.getFileName() + ".retarget.tmp");
        int done = 0, kept = 0;
        try (URLClassLoader types = new URLClassLoader(new URL[] {jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader());
             InputStream in = Files.newInputStream(jar); ZipInputStream zin = new ZipInputStream(in);
             OutputStream out = Files.newOutputStream(tmp); ZipOutputStream zout = new ZipOutputStream(out)) {
            ClassFile cf = ClassFile.of(ClassFile.StackMapsOption.GENERATE_STACK_MAPS,
                    ClassFile.ClassHierarchyResolverOption.of(ClassHierarchyResolver.defaultResolver()
                            .orElse(ClassHierarchyResolver.ofResourceParsing(types))));
            ClassTransform version = (cb, e) -> {
                if (e instanceof ClassFileVersion) cb.withVersion(ClassFile.JAVA_8_VERSION, 0);
                else cb.with(e);
            };
            // re-emitting every method body is what makes the writer compute its stack maps
            ClassTransform retarget = version.andThen(ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL));
            for (ZipEntry e; (e = zin.getNextEntry()) != null; ) {
                byte[] b = zin.readAllBytes();
                if (e.getName().endsWith(".class") && major(b) > 0 && major(b) < ClassFile.JAVA_6_VERSION) {
                    try {
                        b = cf.transformClass(cf.parse(b), retarget);
                        done++;
                    } catch (IllegalArgumentException | IllegalStateException ex) {
                        kept++;
                    }
                }
                ZipEntry o = new ZipEntry(e.getName());
                if (e.getLastModifiedTime() != null) o.setLastModifiedTime(e.getLastModifiedTime());
                zout.putNextEntry(o);
                zout.write(b);
                zout.closeEntry();
            }
        }
        Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.out.println("RetargetOldClasses: " + done + " class files of Java 5 or older rewritten as Java 8 in " + jar
                + (kept > 0 ? "; " + kept + " kept as they were (their stack maps could not be computed)" : ""));
    }

    /** The class file's major version, or 0 when it is not a class file. */
    private static int major(byte[] b) {
        if (b.length < 8 || (b[0] & 0xff) != 0xCA || (b[1] & 0xff) != 0xFE || (b[2] & 0xff) != 0xBA || (b[3] & 0xff) != 0xBE) return 0;
        return (b[6] & 0xff) << 8 | (b[7] & 0xff);
    }
}
