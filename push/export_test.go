package push

// Hooks for the external fuzz tests.
var (
	ClassifyFCMForTest     = classifyFCM2
	ParseRetryAfterForTest = parseRetryAfter
)

func classifyFCM2(status int, raw []byte) *SendError { return classifyFCM(status, raw, 0) }
