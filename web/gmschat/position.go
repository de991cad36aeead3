package gmschat

import (
	"strconv"
	"strings"
)

// Transcript positions (gms-chat-v2.md §9.7): 0 = no events; 1 or absent = all events;
// N = events with index >= N; -N = the last N events (-1 = the last one, as GMS); nextPosition
// = last index + 1.
const (
	PositionNone int64 = 0
	PositionAll  int64 = 1
)

// maxPosition bounds transcriptPosition (both signs) so arithmetic on it never overflows.
const maxPosition = 1 << 53

func errPosition() error { return Errorf(CodeInvalidField, "transcriptPosition must be an integer") }

// ParsePosition decodes a transcriptPosition field. An absent or empty field means all
// events. Leading/trailing spaces are tolerated; a leading '-' asks for the last events;
// '+', fractions, other characters and magnitudes above 2^53 are CodeInvalidField.
func ParsePosition(s string, present bool) (int64, error) {
	s = strings.TrimSpace(s)
	if !present || s == "" {
		return PositionAll, nil
	}
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || digits[0] == '+' || digits[0] == '-' {
		return 0, errPosition()
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 || n > maxPosition {
		return 0, errPosition()
	}
	if len(digits) < len(s) {
		n = -n
	}
	return n, nil
}
