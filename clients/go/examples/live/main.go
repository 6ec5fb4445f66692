// Command live prints the live events of an sms-ws gateway node, resuming across restarts.
//
//	SMS_WS_API_KEY=<app key printed by npm start> go run ./examples/live
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	smsws "github.com/sms-ws/sms-ws-gateway/clients/go"
)

func main() {
	url := os.Getenv("SMS_WS_URL")
	if url == "" {
		url = "ws://localhost:8080/ws"
	}
	key := os.Getenv("SMS_WS_API_KEY")
	if key == "" {
		log.Fatal("set SMS_WS_API_KEY to the app key `npm start` printed")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	connectCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	client, err := smsws.Connect(connectCtx, url, smsws.WithAPIKey(key))
	cancel()
	if err != nil {
		log.Fatalf("connect: %v", err)
	}
	defer client.Close()
	fmt.Println("connected to", url)

	go func() {
		for n := range client.Notices() {
			switch n := n.(type) {
			case smsws.StateChange:
				fmt.Printf("state %s -> %s %d\n", n.Previous, n.State, n.CloseCode)
			case smsws.Resumed:
				fmt.Printf("resumed: %d events replayed\n", n.Replayed)
			case smsws.ResumeFailed:
				fmt.Printf("resume failed (%s): events may be missing since %s\n", n.Reason, n.DisconnectedAt.Format(time.RFC3339))
			}
		}
	}()

	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-client.Events():
			if !ok {
				if err := client.Err(); errors.Is(err, smsws.ErrKicked) || errors.Is(err, smsws.ErrUnauthorized) {
					log.Fatalf("stopped: %v", err)
				}
				return
			}
			switch ev.Type {
			case smsws.TypeStatus:
				fmt.Printf("#%d %s %s -> %s\n", ev.Seq, ev.Timestamp, ev.MessageID, ev.Status)
			case smsws.TypeInbound:
				fmt.Printf("#%d %s inbound %s (%d characters)\n", ev.Seq, ev.Timestamp, ev.MessageID, len([]rune(ev.Body)))
			}
		}
	}
}
