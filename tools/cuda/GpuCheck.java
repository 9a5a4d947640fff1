import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.DiscoverySelectors;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * A minimal JUnit Platform console for tools/cuda/gpu_check.sh (the GPU machine has a jlink'ed
 * runtime and no Maven): runs the named test classes, prints one line per test (PASS, FAIL, SKIP with
 * the reason, ERROR) and each failure's stack trace, then a summary; exit status 1 when any test failed.
 * Compiled by "gpu_check.sh prepare" against the JUnit launcher jar from the local Maven repository.
 */
public final class GpuCheck {
    public static void main(String[] args) {
        List<String> classes = new ArrayList<>(List.of(args));
        var request = LauncherDiscoveryRequestBuilder.request();
        for (String c : classes) request.selectors(DiscoverySelectors.selectClass(c));
        LauncherDiscoveryRequest r = request.build();
        int[] counts = new int[4]; // pass, fail, skip, containers failed
        Launcher launcher = LauncherFactory.create();
        launcher.execute(r, new TestExecutionListener() {
            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                if (id.isTest() || id.isContainer()) {
                    counts[2]++;
                    System.out.println("SKIP  " + name(id) + " -- " + reason);
                }
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                boolean ok = result.getStatus() == TestExecutionResult.Status.SUCCESSFUL;
                boolean aborted = result.getStatus() == TestExecutionResult.Status.ABORTED;
                if (!id.isTest() && ok) return;
                if (aborted) {
                    counts[2]++;
                    System.out.println("SKIP  " + name(id) + " -- " + result.getThrowable().map(Throwable::getMessage).orElse(""));
                    return;
                }
                if (ok) {
                    counts[0]++;
                    System.out.println("PASS  " + name(id));
                    return;
                }
                counts[id.isTest() ? 1 : 3]++;
                System.out.println((id.isTest() ? "FAIL  " : "ERROR ") + name(id));
                result.getThrowable().ifPresent(t -> {
                    StringWriter sw = new StringWriter();
                    t.printStackTrace(new PrintWriter(sw));
                    System.out.println(sw.toString().indent(6));
                });
            }

            private String name(TestIdentifier id) {
                String u = id.getUniqueId();
                int cls = u.indexOf("[class:");
                String c = cls < 0 ? "" : u.substring(cls + 7, u.indexOf(']', cls));
                int tt = u.indexOf("[test-template:");
                String method = tt < 0 ? "" : u.substring(tt + 15, u.indexOf('(', tt)) + " ";
                return c.substring(c.lastIndexOf('.') + 1) + " > " + method + id.getDisplayName();
            }

            @Override
            public void testPlanExecutionFinished(TestPlan plan) {
                System.out.println();
                System.out.println("SUMMARY passed=" + counts[0] + " failed=" + counts[1] + " skipped=" + counts[2] + " errors=" + counts[3]);
            }
        });
        System.exit(counts[1] + counts[3] > 0 ? 1 : 0);
    }
}
