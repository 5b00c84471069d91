package config

import (
	"strings"
	"time"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/phonenumbers/v2"

	"github.com/optout-dev/optout/internal/quote"
)

// Environment is where and how a workspace's flows run, as goflow's environment holds it: the time zone that dates
// are read and campaign events delivered in, how dates and times are written and read, the country whose local
// phone numbers and locations it means, and whether URNs are hidden from flows. The defaults are UTC, YYYY-MM-DD,
// tt:mm, no country and no redaction.
type Environment struct {
	Timezone        *time.Location
	DateFormat      envs.DateFormat
	TimeFormat      envs.TimeFormat
	Country         i18n.Country
	RedactionPolicy envs.RedactionPolicy
}

var (
	dateFormats       = []envs.DateFormat{envs.DateFormatDayMonthYear, envs.DateFormatMonthDayYear, envs.DateFormatYearMonthDay}
	timeFormats       = []envs.TimeFormat{envs.TimeFormatHourMinute, envs.TimeFormatHourMinuteAmPm, envs.TimeFormatHourMinuteSecond, envs.TimeFormatHourMinuteSecondAmPm}
	redactionPolicies = []envs.RedactionPolicy{envs.RedactionPolicyNone, envs.RedactionPolicyURNs}
)

func (d *Document) compileEnvironment(p *problems) Environment {
	e := Environment{Timezone: time.UTC, DateFormat: envs.DateFormatYearMonthDay, TimeFormat: envs.TimeFormatHourMinute, RedactionPolicy: envs.RedactionPolicyNone}

	if d.Timezone != "" {
		// time.LoadLocation also takes "Local" and paths' shapes; an IANA name has neither
		loc, err := time.LoadLocation(d.Timezone)
		if err != nil || d.Timezone == "Local" || strings.HasPrefix(d.Timezone, "/") {
			p.add("timezone", "%s is not an IANA time zone name such as America/Sao_Paulo", quote.Q(d.Timezone))
		} else {
			e.Timezone = loc
		}
	}
	e.DateFormat = oneOf(p, "date_format", d.DateFormat, dateFormats, e.DateFormat)
	e.TimeFormat = oneOf(p, "time_format", d.TimeFormat, timeFormats, e.TimeFormat)
	e.RedactionPolicy = oneOf(p, "redaction_policy", d.RedactionPolicy, redactionPolicies, e.RedactionPolicy)
	if d.Country != "" {
		country := i18n.Country(strings.ToUpper(d.Country))
		if phonenumbers.GetCountryCodeForRegion(string(country)) == 0 {
			p.add("country", "%s is not an ISO 3166-1 alpha-2 country code such as BR", quote.Q(d.Country))
		} else {
			e.Country = country
		}
	}
	return e
}

// oneOf reads a setting that takes one of a few values, or its default when it is empty.
func oneOf[T ~string](p *problems, field, value string, allowed []T, def T) T {
	if value == "" {
		return def
	}
	for _, a := range allowed {
		if string(a) == value {
			return a
		}
	}
	p.add(field, "%s is not one of %v", quote.Q(value), allowed)
	return def
}
