// Package whatsapp speaks the WhatsApp Business Cloud API: it parses and authenticates the webhook notifications Meta
// POSTs (inbound messages, delivery statuses, a user's marketing preferences, template recategorizations), sends
// text and template messages through the Graph API's messages endpoint, says which of Meta's errors are worth a retry,
// and paces sends per business phone number, in one process or shared by several through Redis.
//
// Payload shapes follow Meta's public references (Graph API version APIVersion):
//
//   - webhooks: https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/
//     (messages, messages/status, messages/errors, user_preferences, template_category_update)
//   - messages endpoint: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
//   - error codes: https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
//
// The package keeps no state of its own about messages or contacts: deduplication, consent and the outbox belong to
// the service that uses it.
package whatsapp
