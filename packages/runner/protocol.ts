/**
 * How a suite run hands its artifacts folder to the post-deploy hook: a base64 tar.gz printed to
 * the log between these markers (the pod's filesystem is gone once the Job ends).
 */
export const ARTIFACTS_BEGIN = "INCEPTION-ARTIFACTS-BEGIN";
export const ARTIFACTS_LINE = "INCEPTION-ARTIFACTS ";
export const ARTIFACTS_END = "INCEPTION-ARTIFACTS-END";
