package jllm.serve;

/**
 * Where one sequence's output goes, called on the engine's thread as it happens; implementations
 * hand the events to the thread that answers the client and must not block.
 */
public interface Sink {
    /** Why a sequence ended, in OpenAI's words. */
    enum Finish {
        STOP("stop"), LENGTH("length");

        public final String openAi;

        Finish(String openAi) { this.openAi = openAi; }
    }

    /** New text (never a partial character, never part of a stop sequence). */
    void text(String delta);

    /** The sequence is done: promptTokens and completionTokens are the usage counts. */
    void finish(Finish reason, int promptTokens, int completionTokens);

    /** The sequence failed or was cancelled by the server (not by its client); nothing follows. */
    void error(String message);
}
