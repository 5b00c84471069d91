package config

import (
	"fmt"
	"strings"

	"github.com/optout-dev/optout/internal/quote"
)

// Category is a WhatsApp template category, in the names the opt-out rules use.
type Category string

// The categories a template can have. Meta renamed them over time: what the rules call CUST_SERVICE Meta now calls
// UTILITY, and OTP is Meta's AUTHENTICATION; ParseCategory accepts both names.
const (
	CustomerService Category = "CUST_SERVICE"
	OTP             Category = "OTP"
	Marketing       Category = "MARKETING"
)

var categoryNames = map[string]Category{
	"CUST_SERVICE":   CustomerService,
	"UTILITY":        CustomerService,
	"OTP":            OTP,
	"AUTHENTICATION": OTP,
	"MARKETING":      Marketing,
}

// ParseCategory reads a category in either naming, case-insensitively.
func ParseCategory(s string) (Category, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("category is empty")
	}
	if c, ok := categoryNames[strings.ToUpper(s)]; ok {
		return c, nil
	}
	return "", fmt.Errorf("unknown category %s (want CUST_SERVICE or UTILITY, OTP or AUTHENTICATION, MARKETING)", quote.Q(s))
}
