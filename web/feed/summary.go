package feed

import (
	"slices"
	"strconv"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// SummaryVersion is the version of Summary's shape (docs/workflow.md "Per-chat summaries");
// it follows the rule of SchemaVersion.
const SummaryVersion = 1

// Bounds of one summary and of one summaries answer (docs/operations.md "Limits and abuse").
const (
	// MaxSummaryOpen bounds the chats followed at once: a chat is followed from its first
	// record until its end, so this is the number of chats open at the same time in the range.
	MaxSummaryOpen = 50_000
	// MaxSummaryStatuses bounds the status history of one summary.
	MaxSummaryStatuses = 64
	// MaxSummaryParties bounds the parties of one summary.
	MaxSummaryParties = 32
)

// Summary is what historical reporting needs of one chat, computed from its feed records
// alone. Every time is on the chat core's clock (the records' "time"); every duration runs
// at most to AsOf. docs/workflow.md "Per-chat summaries" defines each field.
type Summary struct {
	V       int        `json:"v"`
	ChatID  string     `json:"chatId"`
	Service string     `json:"service"`
	Async   bool       `json:"async"`
	Created time.Time  `json:"created"`
	Ended   bool       `json:"ended"`
	EndedAt *time.Time `json:"endedAt"`
	// EndReason names the customer's quit reason when the chat ended (chatcore.QuitReason.Name).
	EndReason     *string `json:"endReason"`
	EndReasonCode *int    `json:"endReasonCode"`

	FirstCustomerMessageAt *time.Time `json:"firstCustomerMessageAt"`
	FirstAgentResponseAt   *time.Time `json:"firstAgentResponseAt"`
	FirstResponseMs        *int64     `json:"firstResponseMs"`
	HandleMs               int64      `json:"handleMs"`
	HoldMs                 int64      `json:"holdMs"`
	Holds                  int        `json:"holds"`
	Transfers              int        `json:"transfers"`
	CustomerMessages       int        `json:"customerMessages"`
	AgentMessages          int        `json:"agentMessages"`

	StatusHistory          []StatusChange `json:"statusHistory"`
	StatusHistoryTruncated bool           `json:"statusHistoryTruncated"`
	Parties                []Party        `json:"parties"`
	PartiesTruncated       bool           `json:"partiesTruncated"`

	AsOf     time.Time `json:"asOf"`
	FirstSeq uint64    `json:"firstSeq"`
	LastSeq  uint64    `json:"lastSeq"`
	Records  int       `json:"records"`
}

// StatusChange is one value GCTI_Chat_AsyncStatus took.
type StatusChange struct {
	Status int       `json:"status"`
	At     time.Time `json:"at"`
}

// Party is one participant of the chat.
type Party struct {
	ParticipantID  int        `json:"participantId"`
	Type           string     `json:"type"`
	Nickname       string     `json:"nickname"`
	UserID         string     `json:"userId"`
	Bot            bool       `json:"bot"`
	Joined         time.Time  `json:"joined"`
	Left           *time.Time `json:"left"`
	QuitReasonCode *int       `json:"quitReasonCode"`
}

// chatSummary is the running state of one followed chat.
type chatSummary struct {
	s        Summary
	customer string // the customer's userId (event 1)
	pos      int    // order in which the chat was selected, for the chats still open at the end

	status      int
	haveStatus  bool
	holdSince   time.Time
	agents      map[string]bool // present agents by userId
	handleSince time.Time
	prev        chatcore.Event // the previous event (transfer detection)
}

// summarizer turns feed records into per-chat summaries: Add each record in feed order,
// then Flush. A chat is selected by its first event record (index 1) when select returns
// true; its later records are followed until the chat's end is recorded, when its summary
// is emitted, or until Flush, which emits the chats still open. JSON and CSV answers are
// both written from what it emits.
type summarizer struct {
	keep func(Record) bool
	emit func(*Summary) error
	open map[string]*chatSummary
	next int
	max  int
	// refused is set once a chat could not be followed because max were open; refusedAt
	// is the stored time of that chat's first record (where a continuation starts).
	refused   bool
	refusedAt time.Time
	emitted   int
}

func newSummarizer(keep func(Record) bool, emit func(*Summary) error) *summarizer {
	return &summarizer{keep: keep, emit: emit, open: map[string]*chatSummary{}, max: MaxSummaryOpen}
}

// Add takes the next record.
func (z *summarizer) Add(r Record) error {
	c := z.open[r.ChatID]
	if c == nil {
		if r.Kind != KindEvent || r.Event == nil || r.Event.Index != 1 || !z.keep(r) {
			return nil // not a chat of this range (or one already emitted)
		}
		if len(z.open) >= z.max {
			if !z.refused {
				z.refused, z.refusedAt = true, r.Stored
			}
			return nil
		}
		c = &chatSummary{customer: r.Event.From.UserID, pos: z.next, agents: map[string]bool{}}
		z.next++
		c.s = Summary{V: SummaryVersion, ChatID: r.ChatID, Service: r.Service, Created: r.Time, FirstSeq: r.Seq,
			StatusHistory: []StatusChange{}, Parties: []Party{}}
		z.open[r.ChatID] = c
	}
	c.s.Records++
	c.s.LastSeq = r.Seq
	if r.Time.After(c.s.AsOf) {
		c.s.AsOf = r.Time
	}
	switch {
	case r.Kind == KindEvent && r.Event != nil:
		c.event(*r.Event)
	case r.Kind == KindProperties:
		if c.properties(r.Properties, r.Time) {
			return z.finish(c)
		}
	}
	return nil
}

// Flush emits the chats still open, in the order they were selected.
func (z *summarizer) Flush() error {
	rest := make([]*chatSummary, 0, len(z.open))
	for _, c := range z.open {
		rest = append(rest, c)
	}
	slices.SortFunc(rest, func(a, b *chatSummary) int { return a.pos - b.pos })
	for _, c := range rest {
		if err := z.finish(c); err != nil {
			return err
		}
	}
	return nil
}

func (z *summarizer) finish(c *chatSummary) error {
	delete(z.open, c.s.ChatID)
	c.close()
	z.emitted++
	return z.emit(&c.s)
}

// span is the milliseconds from a to b, never negative (a property change is stamped a
// moment after the events of its commit, so a period can look a millisecond short).
func span(a, b time.Time) int64 { return max(0, b.Sub(a).Milliseconds()) }

// event applies one transcript event.
func (c *chatSummary) event(ev chatcore.Event) {
	at := time.UnixMilli(ev.UTCTime).UTC()
	from := ev.From
	switch ev.Type {
	case chatcore.EventParticipantJoined:
		c.joined(ev, at)
		if from.Type == chatcore.Agent {
			if len(c.agents) == 0 {
				c.handleSince = at
			}
			c.agents[from.UserID] = true
		}
	case chatcore.EventParticipantLeft:
		code := quitCode(ev)
		c.left(from, at, code)
		if from.Type == chatcore.Agent && c.agents[from.UserID] {
			delete(c.agents, from.UserID)
			if len(c.agents) == 0 {
				c.s.HandleMs += span(c.handleSince, at)
			}
		}
		// A transfer: a party joined and, in the next event, the staff member who had the
		// chat left on its own (chatcore.Core.Transfer commits exactly this pair).
		if c.prev.Type == chatcore.EventParticipantJoined && c.prev.Index == ev.Index-1 &&
			c.prev.From.Type != chatcore.Client && from.Type != chatcore.Client &&
			c.prev.From.UserID != from.UserID && code != nil && *code == int(chatcore.QuitLogout) {
			c.s.Transfers++
		}
		if from.UserID == c.customer && !c.s.Ended {
			c.s.Ended, c.s.EndedAt = true, &at
			if code != nil {
				name := chatcore.QuitReason(*code).Name()
				c.s.EndReason, c.s.EndReasonCode = &name, code
			}
		}
	case chatcore.EventMessage:
		if !ev.Visibility.All() {
			break // coaching and monitoring are not part of the conversation
		}
		switch from.Type {
		case chatcore.Client:
			c.s.CustomerMessages++
			if c.s.FirstCustomerMessageAt == nil {
				c.s.FirstCustomerMessageAt = &at
			}
		case chatcore.Agent:
			c.s.AgentMessages++
			if c.s.FirstCustomerMessageAt != nil && c.s.FirstAgentResponseAt == nil {
				c.s.FirstAgentResponseAt = &at
				d := span(*c.s.FirstCustomerMessageAt, at)
				c.s.FirstResponseMs = &d
			}
		}
	}
	c.prev = ev
}

func quitCode(ev chatcore.Event) *int {
	n, err := strconv.Atoi(ev.UserData[chatcore.KeyQuitReason])
	if err != nil {
		return nil
	}
	return &n
}

func (c *chatSummary) party(pid int) *Party {
	for i := range c.s.Parties {
		if c.s.Parties[i].ParticipantID == pid {
			return &c.s.Parties[i]
		}
	}
	return nil
}

func (c *chatSummary) joined(ev chatcore.Event, at time.Time) {
	if p := c.party(ev.From.ParticipantID); p != nil { // a re-join
		p.Left, p.QuitReasonCode = nil, nil
		return
	}
	if len(c.s.Parties) >= MaxSummaryParties {
		c.s.PartiesTruncated = true
		return
	}
	c.s.Parties = append(c.s.Parties, Party{
		ParticipantID: ev.From.ParticipantID, Type: string(ev.From.Type), Nickname: ev.From.Nickname,
		UserID: ev.From.UserID, Bot: ev.UserData[chatcore.KeyPartyStyle] == chatcore.PartyStyleBot, Joined: at,
	})
}

func (c *chatSummary) left(from chatcore.From, at time.Time, code *int) {
	if p := c.party(from.ParticipantID); p != nil {
		p.Left, p.QuitReasonCode = &at, code
	}
}

// properties applies a property change; it reports whether the chat's end is recorded
// (IsOnline false after the customer left), which completes the summary.
func (c *chatSummary) properties(p map[string]string, at time.Time) bool {
	if v, ok := p[chatcore.PropAsyncStatus]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			c.s.Async = true
			c.setStatus(n, at)
		}
	}
	return c.s.Ended && p[chatcore.PropIsOnline] == "false"
}

func (c *chatSummary) setStatus(n int, at time.Time) {
	if c.haveStatus && n == c.status {
		return
	}
	if c.haveStatus && c.status == chatcore.AsyncOnHold {
		c.s.HoldMs += span(c.holdSince, at)
	}
	if n == chatcore.AsyncOnHold {
		c.s.Holds++
		c.holdSince = at
	}
	if n == chatcore.AsyncQueued {
		c.s.Transfers++ // placed into a queue by the agent (chatcore.Core.ReleaseToQueue)
	}
	c.status, c.haveStatus = n, true
	if len(c.s.StatusHistory) >= MaxSummaryStatuses {
		c.s.StatusHistoryTruncated = true
		return
	}
	c.s.StatusHistory = append(c.s.StatusHistory, StatusChange{Status: n, At: at})
}

// close ends the open periods at the chat's end, or at AsOf for a chat still open.
func (c *chatSummary) close() {
	end := c.s.AsOf
	if c.s.EndedAt != nil {
		end = *c.s.EndedAt
		c.s.AsOf = end
	}
	if len(c.agents) > 0 {
		c.s.HandleMs += span(c.handleSince, end)
		clear(c.agents)
	}
	if c.haveStatus && c.status == chatcore.AsyncOnHold {
		c.s.HoldMs += span(c.holdSince, end)
		c.holdSince = end
	}
}
