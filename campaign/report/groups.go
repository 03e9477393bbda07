package report

import "github.com/smilingraft/dsim/campaign"

// groupsOf returns a summary's failure groups (campaign.Group, largest
// first): the summary's own, or derived from its failures when a caller
// built the summary by hand without them.
func groupsOf(s *campaign.Summary) []campaign.Group {
	if len(s.Groups) > 0 || len(s.Failures) == 0 {
		return s.Groups
	}
	return campaign.Groups(s.Failures)
}
