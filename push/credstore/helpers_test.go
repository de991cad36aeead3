package credstore_test

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/push/credstore"
)

func jetstreamCfg() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{Bucket: credstore.Bucket, Description: "chatgate push credentials (AES-GCM encrypted)", History: 5, Storage: jetstream.FileStorage}
}
