package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/optout-dev/optout/cluster"
	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/store"
)

// settings binds flags to OPTOUT_* environment variables: a flag given on the command line wins, then the variable,
// then the default. Every setting's variable is named in --help, which shows the built-in defaults rather than the
// variables' values, so that --help never prints a password that OPTOUT_DB holds.
type settings struct {
	flags    *pflag.FlagSet
	bindings []binding
	checks   []func() string // of values once they are resolved: each returns a problem, or ""
}

type binding struct {
	flag, env string
}

func newSettings(cmd *cobra.Command) *settings {
	return &settings{flags: cmd.Flags()}
}

// bind records that the flag reads env, and returns the flag's usage naming it.
func (s *settings) bind(name, env, usage string) string {
	s.bindings = append(s.bindings, binding{flag: name, env: env})
	return fmt.Sprintf("%s (env %s)", usage, env)
}

func (s *settings) String(name, env, def, usage string) *string {
	return s.flags.String(name, def, s.bind(name, env, usage))
}

func (s *settings) Bool(name, env string, def bool, usage string) *bool {
	return s.flags.Bool(name, def, s.bind(name, env, usage))
}

func (s *settings) Int(name, env string, def int, usage string) *int {
	return s.flags.Int(name, def, s.bind(name, env, usage))
}

func (s *settings) Float(name, env string, def float64, usage string) *float64 {
	return s.flags.Float64(name, def, s.bind(name, env, usage))
}

func (s *settings) Duration(name, env string, def time.Duration, usage string) *time.Duration {
	return s.flags.Duration(name, def, s.bind(name, env, usage))
}

// resolve sets each flag that the command line didn't give from its variable, when that is set, then checks the
// values. It returns a usageError naming every problem and the flag it is with, so that the command exits 2 having
// opened nothing.
func (s *settings) resolve() error {
	var problems []string
	for _, b := range s.bindings {
		f := s.flags.Lookup(b.flag)
		v, ok := os.LookupEnv(b.env)
		if !ok || f.Changed {
			continue
		}
		if f.Value.Type() != "string" {
			v = strings.TrimSpace(v)
		}
		if err := f.Value.Set(v); err != nil {
			problems = append(problems, invalidValue(f, v, " from "+b.env, err))
		}
	}
	for _, check := range s.checks {
		if p := check(); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return &usageError{problems: problems}
	}
	return nil
}

// wants says what a value of each of pflag's types must be, for the types whose parse errors don't say it.
var wants = map[string]string{
	"bool":     "true or false",
	"int":      "a whole number",
	"float64":  "a number",
	"duration": "a duration such as 30s or 5m",
}

// invalidValue words a value that a flag refused, naming the flag and, in from, where the value came from when it
// wasn't the command line. A flag of one of pflag's types says what it wants; any other says what its error says.
func invalidValue(f *pflag.Flag, value, from string, err error) string {
	if want, ok := wants[f.Value.Type()]; ok {
		return fmt.Sprintf("--%s: %s%s is not %s", f.Name, quote.Q(value), from, want)
	}
	return fmt.Sprintf("--%s: %s%s %s", f.Name, quote.Q(value), from, err)
}

// storeSettings are the settings of every command that opens the store.
type storeSettings struct {
	dataDir *string
	db      *string
	redis   *string
}

func (s *settings) store() *storeSettings {
	st := &storeSettings{
		dataDir: s.String("data-dir", "OPTOUT_DATA_DIR", "data", "directory `DIR` of the embedded store, used when there is no --db"),
		db:      s.String("db", "OPTOUT_DB", "", "PostgreSQL `URL` (postgres://... or postgresql://...) to use instead of the embedded store"),
		redis:   s.String("redis", "OPTOUT_REDIS", "", "Redis `URL` (redis://... or rediss://...) shared by several instances; optional"),
	}
	// checked before anything is opened: a --db that isn't PostgreSQL's must not become a directory named after it
	s.checks = append(s.checks,
		func() string { return problem("--db", store.CheckPostgresURL(*st.db)) },
		func() string { return problem("--redis", cluster.CheckURL(*st.redis)) })
	return st
}

// problem words an error with a setting's value for resolve, or returns "" when there is none.
func problem(flag string, err error) string {
	if err == nil {
		return ""
	}
	return flag + ": " + err.Error()
}

// dsn is what store.Open opens.
func (s *storeSettings) dsn() string {
	if *s.db != "" {
		return *s.db
	}
	return *s.dataDir
}
