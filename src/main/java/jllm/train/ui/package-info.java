/**
 * What a training run shows and leaves behind: a one-line {@link jllm.train.ui.ProgressBar}
 * (redrawn in place in a terminal, a short plain line now and then in CI logs), a JSON-lines
 * {@link jllm.train.ui.MetricsLog} that survives crashes and resumes cleanly, and a PNG
 * {@link jllm.train.ui.LossPlot} of train and val loss rendered headless with XChart.
 * The trainer owns the loop; these pieces only display and record it.
 */
package jllm.train.ui;
