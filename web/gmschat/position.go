package gmschat

import (
	"strconv"
	"strings"
)

// Transcript positions (gms-chat-v2.md §9.7): 0 = no events; 1 or absent = all events;
// N = events with index >= N; nextPosition = last index + 1.
const (
	PositionNone int64 = 0
	PositionAll  int64 = 1
)

// maxPosition bounds transcriptPosition so arithmetic on it never overflows.
const maxPosition = 1 << 53

// ParsePosition decodes a transcriptPosition field. An absent or empty field means all
// events. Leading/trailing spaces are tolerated; signs, fractions and values above 2^53 are
// CodeInvalidField.
func ParsePosition(s string, present bool) (int64, error) {
	s = strings.TrimSpace(s)
	if !present || s == "" {
		return PositionAll, nil
	}
	if s[0] == '+' || s[0] == '-' {
		return 0, Errorf(CodeInvalidField, "transcriptPosition must be a non-negative integer")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > maxPosition {
		return 0, Errorf(CodeInvalidField, "transcriptPosition must be a non-negative integer")
	}
	return n, nil
}
