package replay

import (
	"fmt"
	"sort"
	"strings"

	"github.com/smilingraft/dsim/sim"
)

// Timeline is a Recording arranged for drawing: one lane per node (then
// clients seen only in the trace, then the world), each trace event on the
// lane of the node it happened at, messages matched from send to delivery
// or drop, and the sampled state as intervals per lane.
type Timeline struct {
	Lanes []string
	// Lane and Peer give each event's lane and the lane of the node at the
	// other end (-1: none), parallel to Recording.Events.
	Lane, Peer []int
	Msgs       []Msg
	Roles      []Interval // Term, Leader
	Down       []Interval // Text "down" or "paused"
	Cuts       []Interval // Text names the links cut, Level how many
	Groups     []Interval // Lane -1; Text lists the connected groups
	From, To   sim.Time
}

// Message fates.
const (
	MsgDelivered = 0 // reached the receiver
	MsgLost      = 1 // died in flight (link cut or receiver down at arrival)
	MsgRefused   = 2 // dropped when sent (link cut, loss)
	MsgInFlight  = 3 // still in flight when the trace ends
	MsgOrphan    = 4 // delivered or dropped, its send before the kept trace
)

// Msg is one message: the rows (indexes into Recording.Events) of its send
// and of its delivery or drop (-1: none).
type Msg struct {
	Send, End int
	Fate      int
}

// Interval is a span of virtual time on a lane with what held then.
type Interval struct {
	Lane     int
	From, To sim.Time
	I0, I1   uint64 // event indexes at its ends
	Term     uint64
	Leader   bool
	Text     string
	Level    int
}

// Timeline arranges the recording for drawing.
func (r *Recording) Timeline() *Timeline {
	tl := &Timeline{}
	lane := map[string]int{}
	add := func(n string) int {
		if i, ok := lane[n]; ok {
			return i
		}
		lane[n] = len(tl.Lanes)
		tl.Lanes = append(tl.Lanes, n)
		return lane[n]
	}
	for _, n := range r.Nodes {
		add(n)
	}
	var extra []string
	for _, e := range r.Events {
		for _, n := range []string{e.Node, e.Peer} {
			if _, ok := lane[n]; !ok && n != "" && n != "world" {
				lane[n] = -1
				extra = append(extra, n)
			}
		}
	}
	sort.Strings(extra)
	for _, n := range extra {
		delete(lane, n)
		add(n)
	}
	world := add("world")
	laneOf := func(n string) int {
		if n == "" {
			return world
		}
		return lane[n]
	}
	peerOf := func(n string) int {
		if n == "" {
			return -1
		}
		return lane[n]
	}
	if len(r.Events) > 0 {
		tl.From, tl.To = r.Events[0].Time, r.Events[len(r.Events)-1].Time
	}
	type key struct{ from, to, what string }
	pending := map[key][]int{}
	tl.Lane = make([]int, len(r.Events))
	tl.Peer = make([]int, len(r.Events))
	for row, e := range r.Events {
		tl.Lane[row], tl.Peer[row] = laneOf(e.Node), peerOf(e.Peer)
		k := key{e.Node, e.Peer, e.What}
		switch e.Kind {
		case "send":
			pending[k] = append(pending[k], len(tl.Msgs))
			tl.Msgs = append(tl.Msgs, Msg{Send: row, End: -1, Fate: MsgInFlight})
		case "deliver", "drop":
			q := pending[k]
			if len(q) > 0 && (e.Kind == "deliver" || r.Events[tl.Msgs[q[0]].Send].Index < e.Index) {
				m := &tl.Msgs[q[0]]
				pending[k] = q[1:]
				m.End, m.Fate = row, MsgDelivered
				if e.Kind == "drop" {
					m.Fate = MsgLost
				}
				tl.Lane[row], tl.Peer[row] = peerOf(e.Peer), laneOf(e.Node)
				continue
			}
			switch {
			case e.Kind == "drop" && (len(r.Events) == 0 || !r.Capped || e.Index > r.Events[0].Index):
				tl.Msgs = append(tl.Msgs, Msg{Send: row, End: row, Fate: MsgRefused})
			default:
				tl.Msgs = append(tl.Msgs, Msg{Send: -1, End: row, Fate: MsgOrphan})
				if e.Kind == "deliver" {
					tl.Lane[row], tl.Peer[row] = peerOf(e.Peer), laneOf(e.Node)
				}
			}
		}
	}
	tl.intervals(r)
	return tl
}

// intervals turns the state samples into intervals over [From, To].
func (tl *Timeline) intervals(r *Recording) {
	end, endI := tl.To, uint64(0)
	if n := len(r.Events); n > 0 {
		endI = r.Events[n-1].Index
	}
	clip := func(t sim.Time) sim.Time {
		if t < tl.From {
			return tl.From
		}
		return t
	}
	// Roles: one interval per (term, leader) a node held with a term > 0.
	type open struct {
		from sim.Time
		i    uint64
		s    RoleSample
		on   bool
	}
	roles := make([]open, len(r.Nodes))
	closeRole := func(n int, t sim.Time, i uint64) {
		o := roles[n]
		if o.on && o.s.Term > 0 && t >= tl.From {
			tl.Roles = append(tl.Roles, Interval{Lane: n, From: clip(o.from), To: t, I0: o.i, I1: i, Term: o.s.Term, Leader: o.s.Leader})
		}
	}
	for _, s := range r.Roles {
		closeRole(s.Node, s.T, s.I)
		roles[s.Node] = open{from: s.T, i: s.I, s: s, on: true}
	}
	for n := range roles {
		closeRole(n, end, endI)
	}
	// Down and paused.
	type down struct {
		from sim.Time
		i    uint64
		text string
	}
	procs := make([]down, len(r.Nodes))
	closeProc := func(n int, t sim.Time, i uint64) {
		if o := procs[n]; o.text != "" && t >= tl.From {
			tl.Down = append(tl.Down, Interval{Lane: n, From: clip(o.from), To: t, I0: o.i, I1: i, Text: o.text})
		}
	}
	for _, p := range r.Procs {
		closeProc(p.Node, p.T, p.I)
		d := down{from: p.T, i: p.I}
		switch {
		case !p.Up:
			d.text = "down"
		case p.Paused:
			d.text = "paused"
		}
		procs[p.Node] = d
	}
	for n := range procs {
		closeProc(n, end, endI)
	}
	// Links: per node, the set of cut links in or out; and the groups.
	n := len(r.Nodes)
	if n > maxLinkNodes {
		n = maxLinkNodes
	}
	cut := make([][]bool, n)
	for a := range cut {
		cut[a] = make([]bool, n)
	}
	desc := make([]string, n)
	level := make([]int, n)
	since := make([]sim.Time, n)
	sinceI := make([]uint64, n)
	groups, gSince, gSinceI := "", tl.From, uint64(0)
	flush := func(t sim.Time, i uint64) {
		for a := 0; a < n; a++ {
			d, lv := linkText(r.Nodes, cut, a)
			if d == desc[a] {
				continue
			}
			if desc[a] != "" && t >= tl.From {
				tl.Cuts = append(tl.Cuts, Interval{Lane: a, From: clip(since[a]), To: t, I0: sinceI[a], I1: i, Text: desc[a], Level: level[a]})
			}
			desc[a], level[a], since[a], sinceI[a] = d, lv, t, i
		}
		g := groupText(r.Nodes, cut)
		if g != groups {
			if groups != "" && t >= tl.From {
				tl.Groups = append(tl.Groups, Interval{Lane: -1, From: clip(gSince), To: t, I0: gSinceI, I1: i, Text: groups})
			}
			groups, gSince, gSinceI = g, t, i
		}
	}
	for j := 0; j < len(r.Links); {
		i, t := r.Links[j].I, r.Links[j].T
		for ; j < len(r.Links) && r.Links[j].I == i; j++ {
			l := r.Links[j]
			if l.From < n && l.To < n {
				cut[l.From][l.To] = l.Cut
			}
		}
		flush(t, i)
	}
	for a := 0; a < n; a++ {
		if desc[a] != "" {
			tl.Cuts = append(tl.Cuts, Interval{Lane: a, From: clip(since[a]), To: end, I0: sinceI[a], I1: endI, Text: desc[a], Level: level[a]})
		}
	}
	if groups != "" {
		tl.Groups = append(tl.Groups, Interval{Lane: -1, From: clip(gSince), To: end, I0: gSinceI, I1: endI, Text: groups})
	}
}

// linkText describes node a's cut links ("" when none): "isolated" when
// every link to and from it is cut, else the peers it cannot send to (->)
// and hear from (<-). level is the number of cut links.
func linkText(names []string, cut [][]bool, a int) (string, int) {
	var out, in []string
	for b := range cut {
		if b == a {
			continue
		}
		if cut[a][b] {
			out = append(out, names[b])
		}
		if cut[b][a] {
			in = append(in, names[b])
		}
	}
	lv := len(out) + len(in)
	switch {
	case lv == 0:
		return "", 0
	case len(cut) > 1 && len(out) == len(cut)-1 && len(in) == len(cut)-1:
		return "isolated", lv
	}
	var parts []string
	both := map[string]bool{}
	for _, o := range out {
		for _, i := range in {
			if o == i {
				both[o] = true
			}
		}
	}
	var bs []string
	for _, o := range out {
		if both[o] {
			bs = append(bs, o)
		}
	}
	if len(bs) > 0 {
		parts = append(parts, "cut from "+strings.Join(bs, ","))
	}
	var o1, i1 []string
	for _, o := range out {
		if !both[o] {
			o1 = append(o1, o)
		}
	}
	for _, i := range in {
		if !both[i] {
			i1 = append(i1, i)
		}
	}
	if len(o1) > 0 {
		parts = append(parts, "cannot send to "+strings.Join(o1, ","))
	}
	if len(i1) > 0 {
		parts = append(parts, "cannot hear "+strings.Join(i1, ","))
	}
	return strings.Join(parts, "; "), lv
}

// groupText lists the groups of nodes connected both ways ("" when every
// link is up): "{s0 s1} {s2 s3 s4}".
func groupText(names []string, cut [][]bool) string {
	n := len(cut)
	any := false
	for a := 0; a < n && !any; a++ {
		for b := 0; b < n; b++ {
			if cut[a][b] {
				any = true
				break
			}
		}
	}
	if !any {
		return ""
	}
	seen := make([]bool, n)
	var gs []string
	for a := 0; a < n; a++ {
		if seen[a] {
			continue
		}
		g := []string{names[a]}
		seen[a] = true
		stack := []int{a}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for b := 0; b < n; b++ {
				if !seen[b] && !cut[x][b] && !cut[b][x] {
					seen[b] = true
					g = append(g, names[b])
					stack = append(stack, b)
				}
			}
		}
		gs = append(gs, "{"+strings.Join(g, " ")+"}")
	}
	return strings.Join(gs, " ")
}

// msgType is the first word of a message description: its Go type.
func msgType(what string) string {
	if i := strings.IndexByte(what, ' '); i > 0 {
		return what[:i]
	}
	return what
}

// eventName is a short name for an event: its kind, and the message type
// for sends, deliveries and drops.
func eventName(e sim.TraceEvent) string {
	switch e.Kind {
	case "send", "deliver", "drop":
		return fmt.Sprintf("%s %s", e.Kind, msgType(e.What))
	}
	return e.Kind
}
