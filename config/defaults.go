package config

import (
	"github.com/nyaruka/gocommon/i18n"

	"github.com/optout-dev/optout/keywords"
)

// Defaults of a workspace that configures nothing.
var (
	DefaultLanguage          = i18n.Language("por")
	DefaultLanguages         = []i18n.Language{"por", "spa", "eng"}
	DefaultGroup             = "Opted Out"
	DefaultAllowedCategories = []Category{CustomerService, OTP}
)

// DefaultButtons are the labels of Meta's marketing opt-out button, which WhatsApp Manager offers to add to MARKETING
// templates: a tap sends the label as a quick reply (and the payload the business gave it, if any), which the business
// must honour as an opt-out.
var DefaultButtons = keywords.Set{
	keywords.OptOut: keywords.Words{
		"por": {"Parar promoções"},
		"spa": {"Detener promociones"},
		"eng": {"Stop promotions"},
	},
}

// DefaultReplies are the texts sent on an opt-out and an opt-in, per language.
var DefaultReplies = map[keywords.Intent]map[i18n.Language]string{
	keywords.OptOut: {
		"por": "Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!",
		"spa": "Tu solicitud de abandonar la conversación se cumplió. ¡Envíe #volver para regresar!",
		"eng": "Your request to leave the conversation has been fulfilled. Please send #start to come back!",
	},
	keywords.OptIn: {
		"por": "Seu pedido de retornar à conversa foi atendido! Bem vindo de volta!",
		"spa": "Se ha concedido su solicitud para volver a la conversación! Bienvenido de nuevo!",
		"eng": "Your request to return to the conversation has been fulfilled! Welcome back!",
	},
}
