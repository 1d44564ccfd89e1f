package worker

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Reply channels across hosts (docs/protocol.md, "Reply channel"). A Request or Cancel names
// the channel its caller listens on; the worker accepts only a UDP endpoint, and adds its own
// parameters (--reply-channel-params), so that a frame can never choose a term length, an
// interface or anything else the driver would act on.
const (
	// MaxReplyChannelLength is the longest Request/Cancel.replyChannel accepted, in bytes.
	MaxReplyChannelLength = 256
	// DefaultReplyChannelParams is what the worker appends to a caller's UDP reply channel:
	// term/8 = 2 MiB is then the largest reply message, as on the request channel.
	DefaultReplyChannelParams = "term-length=16m"
	replyChannelPrefix        = "aeron:udp?endpoint="
	// replyChannelRule is the BAD_REQUEST message for a reply channel the worker refuses.
	replyChannelRule = "replyChannel must be empty or aeron:udp?endpoint=HOST:PORT"
)

// readReplyChannel reads the replyChannel var data at pos and returns the position after it,
// or a BAD_REQUEST message. A valid channel is stored in env, so everything wrong with the
// frame from here on is answered on it; an invalid one leaves env on the worker's own channel.
func readReplyChannel(msg []byte, pos int, env *envelope) (int, string) {
	if len(msg)-pos < 2 {
		return pos, "frame ends inside the reply channel length"
	}
	length := int(binary.LittleEndian.Uint16(msg[pos:]))
	start := pos + 2
	if length > len(msg)-start {
		return pos, fmt.Sprintf("reply channel length %d runs past the frame (%d bytes left)", length, len(msg)-start)
	}
	if length == 0 {
		return start, "" // the worker's own channel: IPC callers send this, and it costs nothing
	}
	channel := string(msg[start : start+length])
	if err := ValidateReplyChannel(channel); err != nil {
		return pos, err.Error()
	}
	env.replyChannel = channel
	return start + length, ""
}

// ValidateReplyChannel checks a Request/Cancel.replyChannel: "" (the worker's own channel) or
// exactly aeron:udp?endpoint=HOST:PORT, HOST an IPv4 literal, a bracketed IPv6 literal or a
// host name, PORT 1-65535 (at most 5 digits), no other parameters, at most
// MaxReplyChannelLength bytes. The Rust worker's check_reply_channel applies the same rules.
func ValidateReplyChannel(channel string) error {
	if channel == "" {
		return nil
	}
	if len(channel) > MaxReplyChannelLength {
		return fmt.Errorf("%s (at most %d bytes; got %d)", replyChannelRule, MaxReplyChannelLength, len(channel))
	}
	endpoint, ok := strings.CutPrefix(channel, replyChannelPrefix)
	if !ok || !validEndpoint(endpoint) {
		return fmt.Errorf("%s; got %q", replyChannelRule, channel)
	}
	return nil
}

// validEndpoint reports whether s is HOST:PORT as ValidateReplyChannel allows it.
func validEndpoint(s string) bool {
	colon := strings.LastIndexByte(s, ':')
	if colon < 0 {
		return false
	}
	host, port := s[:colon], s[colon+1:]
	if port == "" || len(port) > 5 || strings.TrimLeft(port, "0123456789") != "" {
		return false
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return false
	}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		addr, err := netip.ParseAddr(inner)
		return ok && err == nil && addr.Is6() && addr.Zone() == ""
	}
	// An IPv4 literal is also a host name by these rules, as in the Rust worker: a dotted quad
	// that is no address (10.0.0.256) passes, and the driver's failure to resolve it drops the
	// reply.
	return validHostName(host)
}

// validHostName: RFC 1123 labels of letters, digits and hyphens, 1-63 bytes, not starting or
// ending with a hyphen, separated by single dots (a trailing dot is not accepted).
func validHostName(host string) bool {
	if host == "" || len(host) > 253 {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// replyChannelURI is the channel a reply to requested is published on: the worker's own
// channel for "", else the caller's endpoint with the worker's parameters.
func replyChannelURI(requested, own, params string) string {
	if requested == "" {
		return own
	}
	if params == "" {
		return requested
	}
	return requested + "|" + params
}

// isIPC reports whether channel is an Aeron IPC channel.
func isIPC(channel string) bool {
	return channel == "aeron:ipc" || strings.HasPrefix(channel, "aeron:ipc?")
}

// validateChannels checks the channel settings of a concluded Config: every channel an Aeron
// URI, the advertised request channel no longer than a frame may carry, and the reply
// parameters key=value pairs that do not name the endpoint (the caller's to choose).
func validateChannels(c *Config) error {
	for _, ch := range []struct{ name, value string }{
		{"channel", c.Channel}, {"request channel", c.RequestChannel}, {"announce channel", c.AnnounceChannel},
	} {
		if !isIPCOrUDP(ch.value) {
			return fmt.Errorf("%s %q is not an aeron:ipc or aeron:udp URI", ch.name, ch.value)
		}
	}
	if a := c.AdvertisedRequestChannel; a != "" && !isIPCOrUDP(a) {
		return fmt.Errorf("advertised request channel %q is not an aeron:ipc or aeron:udp URI", a)
	}
	if len(c.AdvertisedRequestChannel) > maxHandlerNameLength {
		return fmt.Errorf("advertised request channel of %d bytes exceeds %d", len(c.AdvertisedRequestChannel), maxHandlerNameLength)
	}
	if c.ReplyChannelParams == "" {
		return nil // none: the driver's defaults for the caller's endpoint
	}
	return ValidateReplyChannelParams(c.ReplyChannelParams)
}

// isIPCOrUDP reports whether channel is an Aeron IPC or UDP URI without a NUL byte (the
// channel flags' rule, as the Rust worker's check_channel).
func isIPCOrUDP(channel string) bool {
	return (isIPC(channel) || channel == "aeron:udp" || strings.HasPrefix(channel, "aeron:udp?")) &&
		!strings.ContainsRune(channel, 0)
}

// ValidateReplyChannelParams checks --reply-channel-params: key=value pairs separated by '|',
// keys and values printable ASCII without '|', '?' or '=', no key endpoint (the caller's), as
// the Rust worker's check_reply_channel_params.
func ValidateReplyChannelParams(params string) error {
	plain := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c <= ' ' || c > '~' || c == '|' || c == '?' || c == '=' {
				return false
			}
		}
		return s != ""
	}
	for pair := range strings.SplitSeq(params, "|") {
		key, value, ok := strings.Cut(pair, "=")
		if !ok || !plain(key) || !plain(value) {
			return fmt.Errorf("reply channel params %q: want key=value pairs separated by '|', e.g. %s", params, DefaultReplyChannelParams)
		}
		if key == "endpoint" {
			return fmt.Errorf("reply channel params %q may not set endpoint: the caller's reply channel names it", params)
		}
	}
	return nil
}
