package jllm.serve;

/**
 * A request the server answers with an error, in OpenAI's shape:
 * {@code {"error": {"message", "type", "param", "code"}}} with the HTTP status.
 */
final class ApiError extends RuntimeException {
    final int status;
    final String type, param, code;

    ApiError(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400 about one field of the request. */
    static ApiError badField(String param, String message) {
        return new ApiError(400, "invalid_request_error", param, null, message);
    }

    static ApiError badRequest(String message) {
        return new ApiError(400, "invalid_request_error", null, null, message);
    }
}
