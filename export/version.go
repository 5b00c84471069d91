package export

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/Masterminds/semver"
	"github.com/nyaruka/gocommon/jsonx"
)

// The export versions that Read reads. RapidPro imports exports back to version 3, bringing them up to 11 with legacy
// migrations that need the workspace the export came from or goes into: 9 looks up numeric IDs to make UUIDs of
// them, 11.0 wraps references to the workspace's date and location fields in format functions. Without a workspace
// they can't be ported, so older exports are refused with the way to bring them up to date: RapidPro has imported
// versions 3 and up, and written version 13, since v5.0. From 11 on, goflow migrates the flows.
var (
	earliestRapidProVersion = semver.MustParse("3")
	earliestVersion         = semver.MustParse("11")
	latestVersion           = semver.MustParse(CurrentVersion)
)

// readVersion reads the version of an export or a legacy flow, which older ones give as a number, and checks that
// Read reads what it versions.
func readVersion(data json.RawMessage) (string, error) {
	if len(data) == 0 || string(data) == "null" {
		return "", errors.New("field 'version' is required")
	}

	var version string
	if jsonx.Unmarshal(data, &version) != nil {
		var number json.Number
		if jsonx.Unmarshal(data, &number) != nil {
			return "", errors.New("field 'version' must be a string")
		}
		version = number.String()
	}

	v, err := semver.NewVersion(version)
	if err != nil {
		return "", fmt.Errorf("version '%s' isn't valid: %w", version, err)
	}
	switch {
	case v.LessThan(earliestRapidProVersion):
		return "", fmt.Errorf("version '%s' is older than %s, the oldest RapidPro imports", version, earliestRapidProVersion.Original())
	case v.LessThan(earliestVersion):
		return "", fmt.Errorf("version '%s' is older than %s, the oldest optout reads: import it into RapidPro v5.0 or later, "+
			"TextIt or Weni, which import versions %s and up, and export it again as version %s",
			version, earliestVersion.Original(), earliestRapidProVersion.Original(), CurrentVersion)
	case v.GreaterThan(latestVersion):
		return "", fmt.Errorf("version '%s' is newer than %s, the newest RapidPro writes", version, CurrentVersion)
	}
	return version, nil
}
