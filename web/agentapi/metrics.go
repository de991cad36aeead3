package agentapi

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// stats are the agent side's counters; the collector reads them on every scrape.
type stats struct {
	mu      sync.Mutex
	actions map[[2]string]uint64 // {action, outcome} → count; both from fixed sets
	lost    atomic.Uint64
	refused atomic.Uint64
	boards  atomic.Uint64 // wall boards delivered
}

// outcomeOf names an action's outcome for the metric (a fixed set).
func outcomeOf(err error) string {
	if err == nil {
		return "ok"
	}
	_, code := statusOf(err)
	return code
}

func (s *stats) action(name string, err error) {
	if !isAction(name) {
		name = "unknown"
	}
	s.mu.Lock()
	s.actions[[2]string{name, outcomeOf(err)}]++
	s.mu.Unlock()
}

func isAction(name string) bool {
	if name == ActState {
		return true
	}
	for _, a := range chatActions {
		if a == name {
			return true
		}
	}
	return false
}

type collector struct {
	a                      *API
	conns, actions         *prometheus.Desc
	lost, refused, present *prometheus.Desc
	contactsDropped        *prometheus.Desc
	boards, boardSubs      *prometheus.Desc
}

// NewCollector exports the agent side as chatgate_agent_* metrics: persistent connections
// by role, presence by role and state, actions by outcome, lost desktops, refused
// connections.
func NewCollector(a *API) prometheus.Collector {
	name := func(n string) string { return prometheus.BuildFQName("chatgate", "agent", n) }
	return &collector{
		a:               a,
		conns:           prometheus.NewDesc(name("connections"), "Bayeux sessions of agents, supervisors and bots on this node.", []string{"role"}, nil),
		present:         prometheus.NewDesc(name("presence"), "Accounts known to this node by role and presence state.", []string{"role", "state"}, nil),
		actions:         prometheus.NewDesc(name("actions_total"), "Agent API actions (REST and CometD) by action and outcome.", []string{"action", "outcome"}, nil),
		lost:            prometheus.NewDesc(name("desktops_lost_total"), "Agent desktops without a session past the grace period.", nil, nil),
		refused:         prometheus.NewDesc(name("connections_refused_total"), "Agent handshakes refused because the node's cap (agent-max-connections) was reached.", nil, nil),
		contactsDropped: prometheus.NewDesc(name("contacts_dropped_total"), "Chats left out of the contact history index because its write queue was full.", nil, nil),
		boards:          prometheus.NewDesc(name("board_deliveries_total"), "Supervisor wall boards (snapshots and coalesced updates) delivered on /agent/{id}/board.", nil, nil),
		boardSubs:       prometheus.NewDesc(name("board_subscribers"), "Supervisor sessions subscribed to their wall board on this node.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.present, c.actions, c.lost, c.refused, c.contactsDropped, c.boards, c.boardSubs} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	conns := map[accounts.Role]int{accounts.RoleAgent: 0, accounts.RoleSupervisor: 0, accounts.RoleBot: 0}
	present := map[[2]string]int{}
	for _, r := range []accounts.Role{accounts.RoleAgent, accounts.RoleSupervisor, accounts.RoleBot} {
		for _, s := range []State{StateReady, StateNotReady, StateLoggedOut} {
			present[[2]string{string(r), string(s)}] = 0
		}
	}
	a.mu.Lock()
	for _, ag := range a.agents {
		conns[ag.acct.Role] += len(ag.sessions)
		present[[2]string{string(ag.acct.Role), string(ag.state)}]++
	}
	a.mu.Unlock()
	for r, n := range conns {
		ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(n), string(r))
	}
	for k, n := range present {
		ch <- prometheus.MustNewConstMetric(c.present, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	a.st.mu.Lock()
	for k, n := range a.st.actions {
		ch <- prometheus.MustNewConstMetric(c.actions, prometheus.CounterValue, float64(n), k[0], k[1])
	}
	a.st.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(a.st.lost.Load()))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(a.st.refused.Load()))
	ch <- prometheus.MustNewConstMetric(c.contactsDropped, prometheus.CounterValue, float64(a.contacts.dropped.Load()))
	ch <- prometheus.MustNewConstMetric(c.boards, prometheus.CounterValue, float64(a.st.boards.Load()))
	ch <- prometheus.MustNewConstMetric(c.boardSubs, prometheus.GaugeValue, float64(a.board.subscribers()))
}
