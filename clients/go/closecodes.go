package smsws

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:generate cp ../../conformance/vectors.json vectors.json

// vectors.json is a copy of conformance/vectors.json, generated from the TypeScript sources
// (src/client/close-codes.ts is the table the server sends from). The copy lives in the module
// so `go get` users have it; TestEmbeddedVectorsAreCurrent fails when it differs from the
// repository's file (run `go generate` in clients/go).
//
//go:embed vectors.json
var vectorsJSON []byte

// closeAction is what the client does when a socket closes with a code.
type closeAction struct {
	// Kind is "reconnect" or "stop".
	Kind string `json:"kind"`
	// Error is the stable error code ("" for none): reported on reconnect, fatal on stop.
	Error           string `json:"error"`
	FreshCredential bool   `json:"freshCredential"`
}

type closeTable struct {
	CloseCodes []struct {
		Name   string      `json:"name"`
		Code   int         `json:"code"`
		Action closeAction `json:"action"`
	} `json:"closeCodes"`
	Unlisted              closeAction `json:"unlistedCloseAction"`
	HeartbeatTimeoutClose int         `json:"heartbeatTimeoutClose"`
}

var closeActions, unlistedAction = mustCloseTable(vectorsJSON)

func mustCloseTable(raw []byte) (map[int]closeAction, closeAction) {
	var t closeTable
	if err := json.Unmarshal(raw, &t); err != nil {
		panic(fmt.Sprintf("smsws: embedded vectors.json: %v", err))
	}
	m := make(map[int]closeAction, len(t.CloseCodes))
	for _, c := range append(t.CloseCodes, struct {
		Name   string      `json:"name"`
		Code   int         `json:"code"`
		Action closeAction `json:"action"`
	}{"unlisted", 0, t.Unlisted}) {
		a := c.Action
		if a.Kind != "reconnect" && a.Kind != "stop" {
			panic(fmt.Sprintf("smsws: embedded vectors.json: code %d: unknown action %q", c.Code, a.Kind))
		}
		if a.Error != "" && sentinelOf[a.Error] == nil {
			panic(fmt.Sprintf("smsws: embedded vectors.json: code %d names %q, which has no sentinel", c.Code, a.Error))
		}
		m[c.Code] = a
	}
	delete(m, 0)
	if t.HeartbeatTimeoutClose != heartbeatCloseCode {
		panic(fmt.Sprintf("smsws: embedded vectors.json: heartbeat close %d, the client uses %d", t.HeartbeatTimeoutClose, heartbeatCloseCode))
	}
	return m, t.Unlisted
}

// actionFor: codes not in the table (1006, codes added later) take the unlisted action.
func actionFor(code int) closeAction {
	if a, ok := closeActions[code]; ok {
		return a
	}
	return unlistedAction
}
