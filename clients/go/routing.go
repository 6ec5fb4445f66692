package smsws

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// tokenTenant reads the tenantId claim of a connection token (a JWT) without verifying it: it
// only picks a route, the server verifies the token. "" for anything that is not a readable JWT.
func tokenTenant(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		TenantID string `json:"tenantId"`
	}
	if json.Unmarshal(raw, &claims) != nil || !tenantIDPattern.MatchString(claims.TenantID) {
		return ""
	}
	return claims.TenantID
}

// routedURL sets tenant=<id> (or <id>:<slot>, slot uniform in [0, slots)) for the load balancer
// (docs/scaling.md, "Tenant affinity"); the URL unchanged without a tenant. The server never
// trusts the hint: the credential decides the scope.
func routedURL(raw, tenant string, slots int, random func() float64) string {
	if tenant == "" {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	value := tenant
	if slots > 1 {
		value += ":" + strconv.Itoa(min(slots-1, int(random()*float64(slots))))
	}
	// Like URLSearchParams.set: the first tenant parameter is replaced in place, others are
	// dropped, a missing one is appended; the other parameters keep their order.
	pair := "tenant=" + url.QueryEscape(value)
	var out []string
	for _, p := range strings.Split(u.RawQuery, "&") {
		if p == "" {
			continue
		}
		key, _, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err == nil && k == "tenant" {
			if pair != "" {
				out = append(out, pair)
				pair = ""
			}
			continue
		}
		out = append(out, p)
	}
	if pair != "" {
		out = append(out, pair)
	}
	u.RawQuery = strings.Join(out, "&")
	return u.String()
}

// partitionOf is the partition of a tenant among k (docs/partitioning.md): FNV-1a 32 of the
// tenant id modulo k, what nats-server computes for {{partition(K,1)}}.
func partitionOf(tenantID string, k int) int {
	h := uint32(2166136261)
	for i := 0; i < len(tenantID); i++ {
		h ^= uint32(tenantID[i])
		h *= 16777619
	}
	return int(h % uint32(k))
}
