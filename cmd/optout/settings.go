package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/optout-dev/optout/cluster"
	"github.com/optout-dev/optout/store"
)

// settings binds flags to OPTOUT_* environment variables: a flag given on the command line wins, then the variable,
// then the default. Every setting's variable is named in --help.
type settings struct {
	fs     *flag.FlagSet
	errs   []string
	checks []func() string // of values once flags are parsed: each returns a problem, or ""
}

func (s *settings) env(name string) (string, bool) {
	return os.LookupEnv(name)
}

func (s *settings) usage(env, usage string) string {
	return fmt.Sprintf("%s (env %s)", usage, env)
}

func (s *settings) String(name, env, def, usage string) *string {
	if v, ok := s.env(env); ok {
		def = v
	}
	return s.fs.String(name, def, s.usage(env, usage))
}

func (s *settings) Bool(name, env string, def bool, usage string) *bool {
	if v, ok := s.env(env); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s: %q is not true or false", env, v))
		}
		def = b
	}
	return s.fs.Bool(name, def, s.usage(env, usage))
}

func (s *settings) Int(name, env string, def int, usage string) *int {
	if v, ok := s.env(env); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s: %q is not a whole number", env, v))
		}
		def = n
	}
	return s.fs.Int(name, def, s.usage(env, usage))
}

func (s *settings) Float(name, env string, def float64, usage string) *float64 {
	if v, ok := s.env(env); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s: %q is not a number", env, v))
		}
		def = f
	}
	return s.fs.Float64(name, def, s.usage(env, usage))
}

func (s *settings) Duration(name, env string, def time.Duration, usage string) *time.Duration {
	if v, ok := s.env(env); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s: %q is not a duration such as 30s or 5m", env, v))
		}
		def = d
	}
	return s.fs.Duration(name, def, s.usage(env, usage))
}

// check reports the problems with the environment variables, which flag parsing can't see, and with the values
// given, and returns errUsage if there are any: the command exits 2, having done nothing.
func (s *settings) check() error {
	problems := s.errs
	for _, check := range s.checks {
		if p := check(); p != "" {
			problems = append(problems, p)
		}
	}
	for _, p := range problems {
		fmt.Fprintf(s.fs.Output(), "optout %s: %s\n", s.fs.Name(), p)
	}
	if len(problems) > 0 {
		return errUsage
	}
	return nil
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

// problem words an error with a setting's value for check, or returns "" when there is none.
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
