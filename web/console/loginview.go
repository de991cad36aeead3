package console

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/net/html"
)

// mustLoginView derives a page's login view from the page: every element marked
// data-view other than "login" is removed, the login view is shown, the page's script is
// replaced by login.js and body names the console (data-console) for it. Done once at
// start from the embedded page, so a section added to a console later is left out of its
// login view without anyone remembering to.
func mustLoginView(page []byte, console string) []byte {
	b, err := loginView(page, console)
	if err != nil {
		panic(fmt.Sprintf("console: login view of the %s page: %v", console, err))
	}
	return b
}

func loginView(page []byte, console string) ([]byte, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return nil, err
	}
	var scripts, logins int
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; {
			next := c.NextSibling
			if c.Type == html.ElementNode {
				view, isView := attr(c, "data-view")
				switch {
				case isView && view != "login":
					n.RemoveChild(c)
					c = next
					continue
				case isView:
					logins++
					delAttr(c, "hidden")
				case c.Data == "script":
					if src, ok := attr(c, "src"); ok && strings.HasPrefix(src, AssetsPath) {
						setAttr(c, "src", AssetsPath+"login.js")
						scripts++
					}
				case c.Data == "body":
					setAttr(c, "data-console", console)
				}
				walk(c)
			}
			c = next
		}
	}
	walk(doc)
	if scripts != 1 || logins == 0 {
		return nil, fmt.Errorf("want one console script and a login view, found %d and %d", scripts, logins)
	}
	var out bytes.Buffer
	if err := html.Render(&out, doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func setAttr(n *html.Node, key, val string) {
	for i := range n.Attr {
		if n.Attr[i].Key == key {
			n.Attr[i].Val = val
			return
		}
	}
	n.Attr = append(n.Attr, html.Attribute{Key: key, Val: val})
}

func delAttr(n *html.Node, key string) {
	out := n.Attr[:0]
	for _, a := range n.Attr {
		if a.Key != key {
			out = append(out, a)
		}
	}
	n.Attr = out
}
