package sweep

import "github.com/prometheus/client_golang/prometheus"

// NewCollector exposes the sweeper's retention counters to Prometheus:
// chatgate_retention_purged_total, chatgate_retention_purge_failures_total,
// chatgate_retention_exported_total and chatgate_retention_export_failures_total
// (docs/operations.md).
func NewCollector(s *Sweeper) prometheus.Collector { return &collector{s: s} }

var (
	descPurged        = prometheus.NewDesc("chatgate_retention_purged_total", "Ended chats purged by retention.", nil, nil)
	descPurgeFailures = prometheus.NewDesc("chatgate_retention_purge_failures_total", "Purges the store refused (the chat is retried at the next sweep pass).", nil, nil)
	descExported      = prometheus.NewDesc("chatgate_retention_exported_total", "Transcripts exported to retention-export-dir before their purge.", nil, nil)
	descExportFailed  = prometheus.NewDesc("chatgate_retention_export_failures_total", "Exports that failed: the chat was kept and is retried at the next sweep pass.", nil, nil)
)

type collector struct{ s *Sweeper }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPurged, descPurgeFailures, descExported, descExportFailed} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(descPurged, prometheus.CounterValue, float64(st.Purged))
	ch <- prometheus.MustNewConstMetric(descPurgeFailures, prometheus.CounterValue, float64(st.PurgeFailures))
	ch <- prometheus.MustNewConstMetric(descExported, prometheus.CounterValue, float64(st.Exported))
	ch <- prometheus.MustNewConstMetric(descExportFailed, prometheus.CounterValue, float64(st.ExportFailures))
}
