package routing

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// SectionRouting is the name of the router's section in the chat options of the
// configuration file ("chat" and "chat.<service>" objects, like chatcore's sections).
const SectionRouting = "routing"

// Settings are the router's options read from configuration: the routing section of the
// defaults scope and of each service.
type Settings struct {
	OfferTimeout, RejectCooldown, LastAgentWindow time.Duration
	KeepReadyOnTimeout                            bool
	CustomerKey                                   string
	Default                                       Service
	Services                                      map[string]Service
}

// ParseSettings reads the routing section of each scope ("" = every service, else a service
// name; values as text, durations in seconds like the chat options):
//
//   - "": offer-timeout (30, 1–3600), reject-cooldown (60, 1–86400), last-agent-window
//     (259200, 0–1728000; 0 = off), keep-ready-on-timeout (false), customer-key
//     (EmailAddress; "-" = same chat only), priority (0), no-agent-notice ("");
//   - a service: queue (the service's name), priority and no-agent-notice (those of "").
//
// Unknown options and bad values are errors naming them.
func ParseSettings(scopes map[string]map[string]string) (Settings, error) {
	s := Settings{OfferTimeout: DefaultOfferTimeout, RejectCooldown: DefaultRejectCooldown, LastAgentWindow: DefaultLastAgentWindow, CustomerKey: DefaultCustomerKey, Services: map[string]Service{}}
	var errs []error
	svcDefaults := map[string]string{}
	for k, v := range scopes[""] {
		var err error
		switch k {
		case "offer-timeout":
			s.OfferTimeout, err = seconds(v, 1, 3600)
		case "reject-cooldown":
			s.RejectCooldown, err = seconds(v, 1, 86400)
		case "last-agent-window":
			s.LastAgentWindow, err = seconds(v, 0, 1728000)
			if err == nil && s.LastAgentWindow == 0 {
				s.LastAgentWindow = -1 // off
			}
		case "keep-ready-on-timeout":
			s.KeepReadyOnTimeout, err = strconv.ParseBool(strings.TrimSpace(v))
		case "customer-key":
			s.CustomerKey = strings.TrimSpace(v)
		case "priority", "no-agent-notice":
			svcDefaults[k] = v
		default:
			err = errors.New("unknown option")
		}
		if err != nil {
			oe := &chatcore.OptionError{Section: SectionRouting, Option: k, Value: v, Reason: err.Error(), Err: ErrInvalid}
			if err.Error() == "unknown option" {
				oe.Value = ""
			}
			errs = append(errs, fmt.Errorf("[chat]: %w", oe))
		}
	}
	def, err := ParseService(svcDefaults)
	if err != nil {
		errs = append(errs, fmt.Errorf("[chat]: %w", err))
	}
	s.Default = def
	names := make([]string, 0, len(scopes))
	for name := range scopes {
		if name != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		svc, err := ParseService(scopes[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("[chat.%s]: %w", name, err))
			continue
		}
		if _, ok := scopes[name]["priority"]; !ok {
			svc.Priority = def.Priority
		}
		if _, ok := scopes[name]["no-agent-notice"]; !ok {
			svc.NoAgentNotice = def.NoAgentNotice
		}
		s.Services[name] = svc
	}
	if err := errors.Join(errs...); err != nil {
		return Settings{}, err
	}
	return s, nil
}

func seconds(v string, lo, hi int) (time.Duration, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("want whole seconds %d–%d", lo, hi)
	}
	return time.Duration(n) * time.Second, nil
}

// Apply copies the settings into c.
func (s Settings) Apply(c *Config) {
	c.OfferTimeout, c.RejectCooldown, c.LastAgentWindow = s.OfferTimeout, s.RejectCooldown, s.LastAgentWindow
	c.KeepReadyOnTimeout, c.CustomerKey = s.KeepReadyOnTimeout, s.CustomerKey
	c.Default, c.Services = s.Default, s.Services
}
