package publisher

import "encoding/binary"

// Encode packs an event as plain MessagePack, byte for byte what the TypeScript publisher's
// msgpackr (useRecords: false) produces for this shape: a map16 header (msgpackr writes map16
// for every object of up to 65535 keys), then each key and value as the smallest string form
// (fixstr, str8, str16, str32). Events hold only strings, so nothing else is needed.
func Encode(e Event) []byte {
	out := make([]byte, 0, 256)
	out = append(out, 0xde)
	out = binary.BigEndian.AppendUint16(out, uint16(len(e.fields)))
	for _, f := range e.fields {
		out = appendString(out, f.key)
		out = appendString(out, f.value)
	}
	return out
}

func appendString(out []byte, s string) []byte {
	n := len(s) // UTF-8 bytes
	switch {
	case n < 32:
		out = append(out, 0xa0|byte(n))
	case n < 1<<8:
		out = append(out, 0xd9, byte(n))
	case n < 1<<16:
		out = append(out, 0xda)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0xdb)
		out = binary.BigEndian.AppendUint32(out, uint32(n))
	}
	return append(out, s...)
}
