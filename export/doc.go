// Package export reads RapidPro-format exports, as RapidPro, TextIt and Weni write them, and single flow
// definitions, migrating flows to goflow's current spec version.
//
// Exports of versions 11 to 13, whose flows goflow migrates, are read as RapidPro imports them, which means accepting
// what older versions wrote:
//
//   - flows in the legacy action_sets/rule_sets format, named by their metadata, and with "base" as a language
//   - version given as a number, and exports without fields, groups, campaigns or triggers
//   - groups with a null query, and fields without UUIDs or with single letter value types
//   - campaign events with messages given as text, as a map of language to text, or as that map encoded in a string
//   - campaigns and triggers referencing groups that the export doesn't declare, and campaign events referencing
//     fields in exports without a list of fields, which RapidPro creates on import and Read adds
//   - keyword triggers with a single keyword and no match type, and triggers with their channel given as a UUID
//
// Older exports, which RapidPro migrates with the help of a workspace, are refused with the way to bring them up to
// date: open them in RapidPro and export them again.
//
// Flows may also use fields, groups and flows that the export doesn't declare, and channels, templates, labels and
// other assets that exports never carry. Export.Dependencies lists those that the workspace doesn't have either, with
// what importing does about each, as RapidPro's import does: fields and groups are created, a missing flow stops the
// import, and the rest are left for the flows to do without.
//
// Flows are validated by goflow, against its registries of action and router types, so a host that registers types
// of its own must do so before reading exports that use them.
package export
