/** The picocli command line: {@code jllm <command>}. */
package jllm.cli;
