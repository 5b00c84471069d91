package service

import (
	"encoding/json"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/internal/sanitize"
	"github.com/optout-dev/optout/whatsapp"
)

// WhatsAppSettings connect a workspace to one business phone number of the WhatsApp Business Cloud API: the service
// receives that number's webhooks and sends the workspace's outbox from it.
type WhatsAppSettings struct {
	PhoneNumberID string `json:"phone_number_id"`
	WABAID        string `json:"waba_id,omitempty"` // the WhatsApp Business Account, whose template changes are the workspace's

	AccessToken string `json:"access_token"` // a system user's token with whatsapp_business_messaging
	AppSecret   string `json:"app_secret"`   // of the Meta app, which signs every webhook notification
	VerifyToken string `json:"verify_token"` // what Meta is given with the callback URL, to check it

	// Throughput is the messages a second the number may send, whatsapp.DefaultThroughput unless Meta upgraded it.
	Throughput *float64 `json:"throughput,omitempty"`
}

// MaxThroughput is the most messages a second Meta lets one business phone number send, once upgraded.
const MaxThroughput = 1000

var metaIDRegex = regexp.MustCompile(`^[0-9]{1,32}$`)

// checkWhatsApp checks the settings of a PUT, which are kept as given with the throughput filled in. Empty settings
// ({}) disconnect the workspace.
func checkWhatsApp(wa *WhatsAppSettings) error {
	if *wa == (WhatsAppSettings{}) {
		return nil
	}
	ids := []struct{ field, value string }{{"phone_number_id", wa.PhoneNumberID}, {"waba_id", wa.WABAID}}
	for i, id := range ids {
		switch {
		case id.value == "" && i == 0:
			return newError(Unprocessable, "whatsapp."+id.field, "is required")
		case id.value != "" && !metaIDRegex.MatchString(id.value):
			return newError(Unprocessable, "whatsapp."+id.field, "%s is not a Meta ID: give the digits WhatsApp Manager shows", quote.Q(id.value))
		}
	}
	secrets := []struct{ field, value string }{{"access_token", wa.AccessToken}, {"app_secret", wa.AppSecret}, {"verify_token", wa.VerifyToken}}
	for _, sec := range secrets {
		field := "whatsapp." + sec.field
		switch {
		case sec.value == "":
			return newError(Unprocessable, field, "is required")
		case sec.value == Redacted:
			return newError(Unprocessable, field, "is the redacted placeholder: send the value itself")
		case utf8.RuneCountInString(sec.value) > 1024:
			return newError(Unprocessable, field, "is longer than 1024 characters")
		case sanitize.Check(sec.value) != nil:
			return &Error{Kind: Unprocessable, Field: field, Err: sanitize.Check(sec.value)}
		}
	}
	if wa.Throughput == nil {
		wa.Throughput = new(float64(whatsapp.DefaultThroughput))
	} else if t := *wa.Throughput; !(t > 0 && t <= MaxThroughput) {
		return newError(Unprocessable, "whatsapp.throughput", "must be more than 0 and at most %d messages a second, not %v", MaxThroughput, t)
	}
	return nil
}

// readWhatsApp reads the settings a workspace keeps, nil for a workspace that isn't connected.
func readWhatsApp(stored json.RawMessage) (*WhatsAppSettings, error) {
	if len(stored) == 0 {
		return nil, nil
	}
	wa := &WhatsAppSettings{}
	if err := json.Unmarshal(stored, wa); err != nil {
		return nil, fmt.Errorf("reading the WhatsApp settings: %w", err)
	}
	if wa.Throughput == nil {
		wa.Throughput = new(float64(whatsapp.DefaultThroughput))
	}
	return wa, nil
}

// redacted returns the settings as the API shows them: without the access token and the app secret.
func (wa *WhatsAppSettings) redacted() *WhatsAppSettings {
	if wa == nil {
		return nil
	}
	shown := *wa
	shown.AccessToken, shown.AppSecret = Redacted, Redacted
	return &shown
}

var templateLanguageRegex = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2}|_[0-9]{3})?$`)

// checkTemplate checks what WhatsApp needs of a broadcast's template, and returns its language and its components
// as the outbox keeps them.
func checkTemplate(t *TemplateRequest) (string, json.RawMessage, error) {
	if t.Language != "" && !templateLanguageRegex.MatchString(t.Language) {
		return "", nil, newError(Unprocessable, "template.language", "%s is not one of Meta's language codes, such as pt_BR or en", quote.Q(t.Language))
	}
	if len(t.Components) == 0 {
		return t.Language, nil, nil
	}
	for i, c := range t.Components {
		field := fmt.Sprintf("template.components[%d]", i)
		if c.Type == "" {
			return "", nil, newError(Unprocessable, field+".type", "is required")
		}
		for j, p := range c.Parameters {
			if p.Type == "" {
				return "", nil, newError(Unprocessable, fmt.Sprintf("%s.parameters[%d].type", field, j), "is required")
			}
			if err := sanitize.Check(p.Text); err != nil {
				return "", nil, &Error{Kind: Unprocessable, Field: fmt.Sprintf("%s.parameters[%d].text", field, j), Err: err}
			}
		}
	}
	components, err := json.Marshal(t.Components)
	return t.Language, components, err
}
