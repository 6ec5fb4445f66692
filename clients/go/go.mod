module github.com/sms-ws/sms-ws-gateway/clients/go

go 1.26.0

require (
	github.com/coder/websocket v1.8.15
	go.uber.org/goleak v1.3.0
)
