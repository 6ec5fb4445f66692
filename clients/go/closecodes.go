package smsws

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:generate node gen/closecodes.mjs

// closecodes.json is generated from src/client/close-codes.ts (the table the server sends from
// and the TypeScript SDK acts on); TestCloseCodesMatchTypeScript fails when it is stale.
//
//go:embed closecodes.json
var closeCodesJSON []byte

// closeAction is what the client does when a socket closes with a code.
type closeAction struct {
	Code int `json:"code"`
	Name string `json:"name"`
	// Action is "reconnect" or "stop".
	Action string `json:"action"`
	// Error is the stable error code ("" for none): reported on reconnect, fatal on stop.
	Error           string `json:"error"`
	FreshCredential bool   `json:"freshCredential"`
}

type closeTable struct {
	HeartbeatTimeoutClose int           `json:"heartbeatTimeoutClose"`
	CloseCodes            []closeAction `json:"closeCodes"`
}

var closeActions = mustCloseTable(closeCodesJSON)

func mustCloseTable(raw []byte) map[int]closeAction {
	var t closeTable
	if err := json.Unmarshal(raw, &t); err != nil {
		panic(fmt.Sprintf("smsws: embedded closecodes.json: %v", err))
	}
	m := make(map[int]closeAction, len(t.CloseCodes))
	for _, a := range t.CloseCodes {
		if a.Action != "reconnect" && a.Action != "stop" {
			panic(fmt.Sprintf("smsws: embedded closecodes.json: code %d: unknown action %q", a.Code, a.Action))
		}
		if a.Action == "stop" && sentinelOf[a.Error] == nil {
			panic(fmt.Sprintf("smsws: embedded closecodes.json: code %d stops with %q, which has no sentinel", a.Code, a.Error))
		}
		m[a.Code] = a
	}
	if t.HeartbeatTimeoutClose != heartbeatCloseCode {
		panic(fmt.Sprintf("smsws: embedded closecodes.json: heartbeat close %d, the client uses %d", t.HeartbeatTimeoutClose, heartbeatCloseCode))
	}
	return m
}

// actionFor: codes not in the table reconnect (1006, codes added later).
func actionFor(code int) closeAction {
	if a, ok := closeActions[code]; ok {
		return a
	}
	return closeAction{Code: code, Action: "reconnect"}
}
