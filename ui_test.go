package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestUI drives Debian's Chromium through the web UI against the real
// server: setting up an empty instance, posting with photos, likes,
// comments, the permalink, deleting, a post that tries to inject markup,
// an ordinary member's view with circles, posts for a circle and for
// oneself that another member does not see, editing a post open to all,
// the admin page, colour contrast, the profile and privacy forms on a
// phone; then a second instance with other settings
// (closed registration, public posts, the assistant, a small upload limit)
// for what the UI offers there and how uploads fail. Any console error,
// uncaught exception or CSP violation fails it, and so does stray
// "false", "undefined", "null", "NaN" or "[object" text in any view.
// Screenshots at phone and desktop widths go to the test's artifact
// directory (go test -artifacts).
func TestUI(t *testing.T) {
	t.Parallel()
	chrome := findChromium(t)
	in := start(t, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, nil)

	b := newBrowser(t, chrome, in.url)
	b.do(chromedp.EmulateViewport(1280, 900))
	// Each step needs the one before it: stop at the first that fails.
	// Every step ends with the page's text checked for stray values.
	step := func(name string, f func(t *testing.T)) {
		ok := t.Run(name, func(t *testing.T) {
			b.t = t
			f(t)
			b.checkText()
		})
		b.t = t
		if !ok {
			b.checkErrors()
			t.FailNow()
		}
	}

	step("first screen of an empty instance", func(t *testing.T) {
		b.open("/")
		b.waitVisible("#register-form input[name=username]")
		if got := b.evalString(`location.hash + ' ' + document.querySelector('h1').textContent`); got != "#/register Create the admin account" {
			t.Errorf("an empty instance opens on %q, want the admin account's form", got)
		}
		if got := b.evalString(`document.querySelector('.auth .lead')?.textContent || ''`); !strings.Contains(got, "runs the instance") {
			t.Errorf("the setup page explains %q", got)
		}
		b.absent(`a[href="#/signin"]`, "a sign-in link before any account exists")
		b.screenshot("setup")
		// The sign-in page sends you back here.
		b.hash("#/signin")
		b.waitJS("sent from sign-in to setup", `location.hash === "#/register" && document.querySelector('h1')?.textContent === "Create the admin account"`)
	})

	step("create the admin account", func(t *testing.T) {
		b.do(
			chromedp.SendKeys(`#register-form input[name=username]`, "alice"),
			chromedp.SendKeys(`#register-form input[name=display_name]`, "Alice Liddell"),
			chromedp.SendKeys(`#register-form input[name=password]`, "correct horse battery"),
		)
		b.click(`#register-form button[type=submit]`)
		b.waitVisible(`#composer textarea[name=content]`)
		b.waitVisible(`.post-list .state.empty`)
		b.waitVisible(`#nav a[href="#/admin"]`)
		// No assistant is configured on this instance: nothing offers it.
		if got := b.evalString(`String(document.querySelector('#composer [aria-controls=ask-panel]').checkVisibility())`); got != "false" {
			t.Error("the composer offers the assistant on an instance without one")
		}
	})

	step("sign out and sign in", func(t *testing.T) {
		b.click(`#nav a[href="#/settings"]`)
		b.waitVisible(`#profile-form input[name=display_name]`)
		if got := b.evalString(`document.querySelector('#profile-form input[name=display_name]').value`); got != "Alice Liddell" {
			t.Errorf("display name in settings = %q", got)
		}
		b.checkText()
		b.screenshot("settings")
		b.click(`#sign-out`)
		b.waitVisible(`#signin-form input[name=username]`)
		// Registration is open, visitors may not read.
		b.waitVisible(`.auth a[href="#/register"]`)
		b.absent(`.auth button.link`, `"Look around without signing in" where visitors may not read`)
		b.checkText()
		b.screenshot("signin")
		b.do(
			chromedp.SendKeys(`#signin-form input[name=username]`, "alice"),
			chromedp.SendKeys(`#signin-form input[name=password]`, "correct horse battery"),
		)
		b.click(`#signin-form button[type=submit]`)
		b.waitVisible(`#composer textarea[name=content]`)
	})

	var postID string
	step("post text with two photos", func(t *testing.T) {
		dir := t.TempDir()
		photos := []string{filepath.Join(dir, "sea.png"), filepath.Join(dir, "sand.jpg")}
		writeImage(t, photos[0], 640, 480)
		writeImage(t, photos[1], 480, 640)
		b.do(chromedp.SetUploadFiles(`#compose-photos`, photos))
		b.waitJS("two uploaded previews", `document.querySelectorAll('#composer .preview[data-state="done"]').length === 2`)
		b.do(chromedp.SendKeys(`#compose-content`, "Beach day!\nTide table: https://example.com/tides."))
		b.click(`#composer button[type=submit]`)

		top := `.posts > .post:first-child`
		b.waitJS("the new post at the top of the feed",
			`document.querySelector('`+top+` .content')?.textContent === "Beach day!\nTide table: https://example.com/tides."`)
		b.waitJS("its two thumbnails loaded", `(() => {
			const imgs = [...document.querySelectorAll('`+top+` .photos img')];
			return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0);
		})()`)
		link := b.evalString(`(() => { const a = document.querySelector('` + top + ` .content a'); return a.href + ' ' + a.rel; })()`)
		if link != "https://example.com/tides noopener nofollow ugc" {
			t.Errorf("auto-link = %q", link)
		}
		if got := b.evalString(`document.querySelector('#composer textarea').value + document.querySelectorAll('#composer .preview').length`); got != "0" {
			t.Errorf("composer not cleared after posting: %q", got)
		}
		postID = b.evalString(`document.querySelector('` + top + `').dataset.postId`)
	})
	card := `.post[data-post-id="` + postID + `"]`

	step("like and unlike", func(t *testing.T) {
		like := card + ` button.like`
		b.click(like)
		b.waitJS("liked", likeState(like, true, 1))
		b.reload(card)
		b.waitJS("like kept after reload", likeState(like, true, 1))
		b.click(like)
		b.waitJS("unliked", likeState(like, false, 0))
		b.reload(card)
		b.waitJS("unlike kept after reload", likeState(like, false, 0))
	})

	step("comment", func(t *testing.T) {
		b.click(card + ` button.comments-toggle`)
		b.waitVisible(card + ` .comment-form input[name=content]`)
		b.do(chromedp.SendKeys(card+` .comment-form input[name=content]`, "Lovely <b>sea</b>!"))
		b.click(card + ` .comment-form button[type=submit]`)
		b.waitJS("the comment shown", `document.querySelector('`+card+` .comment .text')?.textContent === "Lovely <b>sea</b>!"`)
		b.waitJS("the comment counted", `document.querySelector('`+card+` .comments-toggle .n').textContent === "1"`)
		b.screenshot("feed")
		b.colorScheme("dark")
		b.screenshot("feed-dark")
		b.colorScheme("")
	})

	step("photo viewer", func(t *testing.T) {
		b.click(card + ` .photos .thumb`)
		b.waitJS("the viewer open with the full photo", `(() => {
			const img = document.querySelector('dialog.viewer[open] img.full');
			return img && img.complete && img.naturalWidth > 0;
		})()`)
		b.do(chromedp.KeyEvent(kb.ArrowRight))
		b.waitJS("the second photo", `document.querySelector('dialog.viewer .count').textContent === "2 / 2"`)
		b.checkText()
		b.do(chromedp.KeyEvent(kb.Escape))
		b.do(chromedp.WaitNotPresent(`dialog.viewer`))
	})

	step("permalink", func(t *testing.T) {
		b.click(card + ` a.when`)
		b.waitJS("the permalink", `location.hash === "#/p/`+postID+`"`)
		b.waitJS("the post with its comment", `document.querySelector('.permalink `+card+` .comment .text')?.textContent === "Lovely <b>sea</b>!"`)
		b.waitJS("its thumbnails loaded", `[...document.querySelectorAll('.permalink .photos img')].every(i => i.complete && i.naturalWidth > 0)`)
		b.screenshot("permalink")
	})

	step("timeline", func(t *testing.T) {
		b.click(`.permalink a.author`)
		b.waitJS("alice's profile", `document.querySelector('.profile h1')?.textContent === "Alice Liddell"`)
		b.waitVisible(`.post-list ` + card)
		b.waitVisible(`.profile a[href="#/settings"]`)
	})

	const attack = `<img src=x onerror="window.__xss=1">`
	step("markup in a post is text", func(t *testing.T) {
		b.click(`a.brand`)
		b.waitVisible(`#compose-content`)
		b.do(chromedp.SendKeys(`#compose-content`, attack))
		b.click(`#composer button[type=submit]`)
		b.waitJS("the post shown as text", `document.querySelector('.posts > .post:first-child .content')?.textContent === `+jsString(attack))
		if n := b.evalString(`String(document.querySelectorAll('.posts .content img, .posts .content [onerror]').length)`); n != "0" {
			t.Errorf("%s elements made from post text", n)
		}
		b.reload(`.posts > .post`)
		if got := b.evalString(`typeof window.__xss`); got != "undefined" {
			t.Errorf("window.__xss is %s: the post's markup ran", got)
		}
	})

	step("delete", func(t *testing.T) {
		b.click(card + ` button.delete`)
		b.waitVisible(`dialog.confirm[open] button[value=ok]`)
		b.click(`dialog.confirm button[value=ok]`)
		b.do(chromedp.WaitNotPresent(card))
		b.reload(`.posts > .post`)
		if n := b.evalString(`String(document.querySelectorAll('` + card + `').length)`); n != "0" {
			t.Error("the deleted post is back after a reload")
		}
	})

	// An ordinary member joins and walks every view.
	step("a member joins", func(t *testing.T) {
		b.click(`#nav a[href="#/settings"]`)
		b.click(`#sign-out`)
		b.waitVisible(`.auth a[href="#/register"]`)
		b.click(`.auth a[href="#/register"]`)
		b.waitJS("the register form", `document.querySelector('h1')?.textContent === "Create your account"`)
		b.checkText()
		b.do(
			chromedp.SendKeys(`#register-form input[name=username]`, "bob"),
			chromedp.SendKeys(`#register-form input[name=display_name]`, "Bob Tables"),
			chromedp.SendKeys(`#register-form input[name=password]`, "bob's long password"),
		)
		b.click(`#register-form button[type=submit]`)
		b.waitVisible(`#composer textarea[name=content]`)
		b.waitVisible(`.posts > .post`)
		b.absent(`#nav a[href="#/admin"]`, "the admin link for a member")
		b.do(chromedp.SendKeys(`#compose-content`, "Bob's first moment"))
		b.click(`#composer button[type=submit]`)
		b.waitJS("bob's post in the feed", `document.querySelector('.posts > .post:first-child .content')?.textContent === "Bob's first moment"`)
		b.screenshot("member-feed")
	})

	step("member: a post", func(t *testing.T) {
		alices := `.posts > .post:has(a.author[href="#/u/alice"])`
		b.click(alices + ` a.when`)
		b.waitVisible(`.permalink .post .comment-form input[name=content]`)
		b.absent(`.permalink .post button.delete`, "a delete button on another member's post")
		b.do(chromedp.SendKeys(`.permalink .comment-form input[name=content]`, "Nice one"))
		b.click(`.permalink .comment-form button[type=submit]`)
		b.waitJS("bob's comment", `document.querySelector('.permalink .comment .text')?.textContent === "Nice one"`)
		b.click(`.permalink .post button.like`)
		b.waitJS("bob named under the post", `document.querySelector('.permalink .post .likers')?.textContent === "Liked by Bob Tables"`)
	})

	step("member: own profile", func(t *testing.T) {
		b.click(`#nav a.me`)
		b.waitJS("bob's profile", `document.querySelector('.profile h1')?.textContent === "Bob Tables"`)
		b.waitVisible(`.profile a[href="#/settings"]`)
		b.waitVisible(`.post-list .post`)
	})

	step("member: another member's profile", func(t *testing.T) {
		b.hash("#/u/alice")
		b.waitJS("alice's profile", `document.querySelector('.profile h1')?.textContent === "Alice Liddell" && document.querySelector('.profile .badge')?.textContent === "Admin"`)
		b.waitVisible(`.post-list .post`)
		b.absent(`.profile a[href="#/settings"]`, "an edit link on someone else's profile")
		b.screenshot("member-profile")
	})

	step("member: settings", func(t *testing.T) {
		b.click(`#nav a[href="#/settings"]`)
		b.waitJS("bob's settings", `document.querySelector('#profile-form input[name=display_name]')?.value === "Bob Tables"`)
	})

	// Bob shares with a circle, and with himself alone; alice, outside
	// the circle, sees neither until bob opens one to all members.
	step("member: circles", func(t *testing.T) {
		b.click(`#nav a[href="#/circles"]`)
		b.waitJS("the circles page", `document.querySelector('h1')?.textContent === "Circles" && document.querySelector('main [role=status]')?.textContent.startsWith("No circles yet")`)
		b.do(chromedp.SendKeys(`#circle-form input[name=name]`, "Climbers"))
		b.click(`#circle-form button[type=submit]`)
		b.waitJS("the new circle", `document.querySelector('.circle-list .circle .circle-name')?.textContent === "Climbers"`)
		b.expect(`status of 409 .* ` + regexp.QuoteMeta(in.url+"/circles") + `$`)
		b.do(chromedp.SendKeys(`#circle-form input[name=name]`, "climbers"))
		b.click(`#circle-form button[type=submit]`)
		b.waitJS("a second circle of the same name refused", `document.querySelector('#circle-form .field-error')?.textContent === "You already have a circle by that name."`)
		b.screenshot("circles")
	})

	step("member: a post for a circle and one for himself", func(t *testing.T) {
		b.click(`a.brand`)
		b.waitVisible(`#compose-audience`)
		if got := b.evalString(`[...document.querySelectorAll('#compose-audience option')].map(o => o.value + '=' + o.textContent).join(', ')`); got != "members=All members, circles=My circles…, only_me=Only me" {
			t.Errorf("the audiences offered: %q", got)
		}
		b.chooseAudience("circles")
		// A click on the circle's name ticks its box.
		b.waitVisible(`#compose-circle_ids label.check`)
		b.click(`#compose-circle_ids label.check`)
		b.do(chromedp.SendKeys(`#compose-content`, "For the climbers"))
		b.click(`#composer button[type=submit]`)
		top := `.posts > .post:first-child`
		b.waitJS("the circle's post", `document.querySelector('`+top+` .content')?.textContent === "For the climbers" && document.querySelector('`+top+` .audience-badge')?.textContent === "Visible to: Climbers"`)
		if got := b.evalString(`document.querySelector('#compose-audience').value + ' ' + document.querySelector('#compose-circle_ids').hidden`); got != "members true" {
			t.Errorf("after posting the composer's audience is %q, want members again", got)
		}
		b.chooseAudience("only_me")
		b.do(chromedp.SendKeys(`#compose-content`, "Only for me"))
		b.click(`#composer button[type=submit]`)
		b.waitJS("the private post", `document.querySelector('`+top+` .content')?.textContent === "Only for me" && document.querySelector('`+top+` .audience-badge')?.textContent === "Visible to: Only me"`)
		b.absent(`.post:has(a.author[href="#/u/alice"]) .audience-badge`, "an audience shown on another member's post")
		b.screenshot("audiences")
		b.colorScheme("dark")
		b.screenshot("audiences-dark")
		b.colorScheme("")
	})

	step("member: no admin page", func(t *testing.T) {
		b.absent(`#nav a[href="#/admin"]`, "the admin link for a member")
		b.hash("#/admin")
		b.waitJS("the admin page refused", `document.querySelector('main .state.error')?.textContent === "Only admins can see this page."`)
		b.absent(`.users .user`, "accounts listed to a member")
		b.absent(`#nav a[href="#/admin"]`, "the admin link for a member")
	})

	step("admin", func(t *testing.T) {
		b.click(`#nav a[href="#/settings"]`)
		b.click(`#sign-out`)
		b.waitVisible(`#signin-form input[name=username]`)
		b.do(
			chromedp.SendKeys(`#signin-form input[name=username]`, "alice"),
			chromedp.SendKeys(`#signin-form input[name=password]`, "correct horse battery"),
		)
		b.click(`#signin-form button[type=submit]`)
		b.waitVisible(`#nav a[href="#/admin"]`)
		b.click(`#nav a[href="#/admin"]`)
		b.waitJS("alice listed as an admin", `[...document.querySelectorAll('.users .user')].some(li => li.textContent.includes('@alice') && li.querySelector('.badge')?.textContent === 'Admin')`)
		b.waitJS("bob listed", `[...document.querySelectorAll('.users .user')].some(li => li.textContent.includes('@bob'))`)
		// The server refuses to let an admin demote or disable themselves
		// (409); the page does not offer it.
		buttons := func(user string) string {
			return b.evalString(`[...[...document.querySelectorAll('.users .user')].find(li => li.querySelector('.handle').textContent.includes('@` + user + `')).querySelectorAll('button')].map(b => b.textContent).join(',')`)
		}
		if got := buttons("alice"); got != "" {
			t.Errorf("alice's own row offers %q", got)
		}
		if got := buttons("bob"); got != "Make admin,Disable" {
			t.Errorf("bob's row offers %q, want Make admin and Disable", got)
		}
		b.screenshot("admin")
	})

	step("admin: others' private posts stay private", func(t *testing.T) {
		b.click(`a.brand`)
		b.waitJS("bob's public post", `[...document.querySelectorAll('.posts .post .content')].some(c => c.textContent === "Bob's first moment")`)
		b.waitJS("the end of the feed", `document.querySelector('.post-list .end') !== null`)
		for _, text := range []string{"For the climbers", "Only for me"} {
			if got := b.evalString(`String([...document.querySelectorAll('.posts .post .content')].some(c => c.textContent === ` + jsString(text) + `))`); got != "false" {
				t.Errorf("alice, an admin outside bob's circle, sees %q", text)
			}
		}
		b.click(`#nav a[href="#/admin"]`)
		b.waitVisible(`.users .user`)
	})

	step("contrast, light and dark", func(t *testing.T) {
		for _, scheme := range []string{"light", "dark"} {
			b.colorScheme(scheme)
			// A danger button and an error toast, on the admin page.
			b.waitVisible(`.users button.danger`)
			danger := b.contrast(`textVsBackground(document.querySelector('.users button.danger'))`)
			toast := b.contrast(`import('/ui.js').then(m => {
				m.toast("Couldn't save that", 'error');
				const t = document.querySelector('#toasts .toast.error:last-child');
				const r = textVsBackground(t);
				t.remove();
				return r;
			})`)
			t.Logf("%s: danger %.2f toast %.2f", scheme, danger, toast)
			if danger < 4.5 || toast < 4.5 {
				t.Errorf("%s: danger button text %.2f:1, error toast text %.2f:1; both need 4.5:1", scheme, danger, toast)
			}
			if scheme == "dark" {
				b.screenshot("admin-dark")
			}
			// Input borders, on settings: against the input's own fill and
			// the card behind it.
			b.click(`#nav a[href="#/settings"]`)
			b.waitVisible(`#password-form input[name=current_password]`)
			border := b.contrast(`Math.min(...[...document.querySelectorAll('main input, main textarea')]
				.filter(i => i.checkVisibility() && parseFloat(getComputedStyle(i).borderTopWidth) > 0)
				.map(borderVsBackground))`)
			if border < 3 {
				t.Errorf("%s: input border %.2f:1 against its background; it needs 3:1", scheme, border)
			}
			if scheme == "dark" {
				b.screenshot("settings-dark")
			}
			b.click(`#nav a[href="#/admin"]`)
		}
		b.colorScheme("")
	})

	step("profile saved on a phone", func(t *testing.T) {
		b.do(chromedp.EmulateViewport(390, 844))
		b.click(`#nav a[href="#/settings"]`)
		b.waitVisible(`#profile-form textarea[name=bio]`)
		b.do(chromedp.SendKeys(`#profile-form textarea[name=bio]`, "Curious, mostly."))
		b.click(`#profile-form button[type=submit]`)
		b.waitJS("the confirmation", `document.querySelector('#profile-form [role=status]')?.textContent === "Profile saved."`)
		covered := b.evalString(`(() => {
			const boxes = [...document.querySelectorAll('#profile-form [role=status], #toasts > *')]
				.filter(e => e.checkVisibility()).map(e => e.getBoundingClientRect());
			const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
			return [...document.querySelectorAll('#password-form, #password-form *')]
				.filter(e => e.checkVisibility() && boxes.some(r => hit(r, e.getBoundingClientRect())))
				.map(e => e.tagName + (e.name ? '[name=' + e.name + ']' : '')).join(', ');
		})()`)
		if covered != "" {
			t.Errorf("the save confirmation covers the password form: %s", covered)
		}
		b.screenshot("settings-saved")
		b.do(chromedp.EmulateViewport(1280, 900))
	})

	step("privacy settings", func(t *testing.T) {
		b.click(`#nav a[href="#/settings"]`)
		b.waitVisible(`#privacy-form select[name=history_visible_days]`)
		b.do(chromedp.SetValue(`#privacy-form select[name=history_visible_days]`, "3"))
		b.do(chromedp.SetValue(`#privacy-form select[name=default_audience]`, "only_me"))
		b.click(`#privacy-form button[type=submit]`)
		b.waitJS("the confirmation", `document.querySelector('#privacy-form [role=status]')?.textContent === "Privacy saved."`)
		b.reload(`#privacy-form select[name=history_visible_days]`)
		if got := b.evalString(`document.querySelector('#privacy-form select[name=history_visible_days]').value + ' ' + document.querySelector('#privacy-form select[name=default_audience]').value`); got != "3 only_me" {
			t.Errorf("after a reload the privacy form says %q", got)
		}
		b.click(`a.brand`)
		b.waitJS("the composer starts with the default", `document.querySelector('#compose-audience')?.value === "only_me"`)
		b.click(`#nav a[href="#/settings"]`)
		b.do(chromedp.SetValue(`#privacy-form select[name=history_visible_days]`, "0"))
		b.do(chromedp.SetValue(`#privacy-form select[name=default_audience]`, "members"))
		b.click(`#privacy-form button[type=submit]`)
		b.waitJS("the confirmation", `document.querySelector('#privacy-form [role=status]')?.textContent === "Privacy saved."`)
	})

	step("member: edit a post for everyone, and a circle's members", func(t *testing.T) {
		b.click(`#sign-out`)
		b.signIn("bob", "bob's long password")
		mine := `.post:has(.audience-badge[data-audience=circles])`
		b.waitVisible(mine + ` button.edit`)
		b.click(mine + ` button.edit`)
		b.waitVisible(`.edit-post textarea[name=content]`)
		b.evalString(`(() => { const t = document.querySelector('.edit-post textarea[name=content]'); t.select(); return ''; })()`)
		b.do(chromedp.SendKeys(`.edit-post textarea[name=content]`, "For everyone now"))
		b.evalString(`(() => { const s = document.querySelector('.edit-post select[name=audience]'); s.value = 'members'; s.dispatchEvent(new Event('change')); return ''; })()`)
		b.screenshot("edit-post")
		b.click(`.edit-post button[type=submit]`)
		b.waitJS("the edited post", `[...document.querySelectorAll('.posts .post')].some(p => p.querySelector('.content')?.textContent === "For everyone now" && p.querySelector('.edited') && p.querySelector('.audience-badge')?.textContent === "Visible to: All members")`)

		b.click(`#nav a[href="#/circles"]`)
		b.click(`.circle-list .circle .circle-open`)
		b.waitVisible(`.circle-members input[type=search]`)
		b.do(chromedp.SendKeys(`.circle-members input[type=search]`, "ali"))
		b.waitVisible(`.circle-members .search-results button.found`)
		b.click(`.circle-members .search-results button.found`)
		b.waitJS("alice in the circle", `document.querySelector('.circle-members .member-list .member a')?.textContent === "Alice Liddell" && document.querySelector('.circle-open .muted').textContent === "1 member"`)
		b.screenshot("circle-members")
		b.colorScheme("dark")
		b.screenshot("circle-members-dark")
		b.colorScheme("")
	})

	step("the edit reaches everyone", func(t *testing.T) {
		b.click(`#nav a[href="#/settings"]`)
		b.click(`#sign-out`)
		b.signIn("alice", "correct horse battery")
		b.waitJS("bob's edited post, marked", `[...document.querySelectorAll('.posts .post')].some(p => p.querySelector('.content')?.textContent === "For everyone now" && p.querySelector('.edited'))`)
		b.waitJS("the end of the feed", `document.querySelector('.post-list .end') !== null`)
		if got := b.evalString(`String([...document.querySelectorAll('.posts .post .content')].some(c => c.textContent === "Only for me"))`); got != "false" {
			t.Error("alice sees bob's post for himself")
		}
		b.absent(`.post:has(a.author[href="#/u/bob"]) button.edit`, "an edit button on another member's post")
	})

	if got := b.evalString(`typeof window.__xss`); got != "undefined" {
		t.Errorf("window.__xss is %s", got)
	}

	// A second instance: named, closed to registration after its first
	// account, readable without an account, with an assistant and a small
	// upload limit. The same tab visits it; its storage is its own origin's.
	other := start(t, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--name", "Seaside Club", "--registration", "closed", "--public-posts", "true", "--max-upload", "64KiB",
		"--ai-base-url", "http://127.0.0.1:9/v1", "--ai-model", "test-model"}, nil)

	step("set up a closed instance", func(t *testing.T) {
		b.base = other.url
		b.open("/")
		b.waitJS("the admin account's form", `document.querySelector('h1')?.textContent === "Create the admin account"`)
		b.do(
			chromedp.SendKeys(`#register-form input[name=username]`, "carol"),
			chromedp.SendKeys(`#register-form input[name=password]`, "carol's long password"),
		)
		b.click(`#register-form button[type=submit]`)
		b.waitVisible(`#composer textarea[name=content]`)
		if got := b.evalString(`document.title + ' / ' + document.querySelector('.brand').textContent`); got != "Seaside Club / Seaside Club" {
			t.Errorf("title / brand = %q", got)
		}
		b.waitVisible(`#composer [aria-controls=ask-panel]`)
		b.chooseAudience("public")
		b.do(chromedp.SendKeys(`#compose-content`, "Dunes at dusk"))
		b.click(`#composer button[type=submit]`)
		b.waitJS("the post", `document.querySelector('.posts > .post:first-child .content')?.textContent === "Dunes at dusk" && document.querySelector('.posts > .post:first-child .audience-badge')?.textContent === "Visible to: Everyone"`)
	})

	step("uploads that fail say why", func(t *testing.T) {
		dir := t.TempDir()
		big := filepath.Join(dir, "big.jpg") // over the 64 KiB limit
		if err := os.WriteFile(big, make([]byte, 100<<10), 0o644); err != nil {
			t.Fatal(err)
		}
		text := filepath.Join(dir, "notes.png")
		if err := os.WriteFile(text, []byte("These are my notes, not a picture.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		wide := filepath.Join(dir, "wide.png") // a few bytes, but wider than the server decodes
		writePaletted(t, wide, 20001, 1)
		b.expect(`status of 41[35] .* ` + regexp.QuoteMeta(other.url+"/media") + `$`)
		b.do(chromedp.SetUploadFiles(`#compose-photos`, []string{big, text, wide}))
		b.waitJS("three failed previews", `document.querySelectorAll('#composer .preview[data-state="error"]').length === 3`)

		errors := b.evalString(`[...document.querySelectorAll('#composer .photo-errors li')].map(li => li.textContent).join('\n')`)
		for _, want := range []string{"Photo 1: Larger than 64 KB, the limit here (this one is 100 KB).", "Photo 2: That is not a JPEG, PNG, GIF or WebP image", "Photo 3: The image's dimensions are too large to process (at most 40 megapixels"} {
			if !strings.Contains(errors, want) {
				t.Errorf("the photo errors say\n%s\nwant a line with %q", errors, want)
			}
		}
		// Each tile's own text fits inside the tile.
		tiles := b.evalString(`[...document.querySelectorAll('#composer .preview')].map(li => {
			const t = li.getBoundingClientRect(), r = li.querySelector('.badge').getBoundingClientRect();
			const inside = r.left >= t.left && r.right <= t.right && r.top >= t.top && r.bottom <= t.bottom;
			return li.querySelector('.badge').textContent + (inside ? '' : ' (outside its tile)') + ' | ' + li.title;
		}).join('\n')`)
		for i, want := range []string{"Too large | Larger than 64 KB, the limit here", "Not an image | That is not a JPEG", "Too large | The image's dimensions"} {
			if lines := strings.Split(tiles, "\n"); i >= len(lines) || !strings.HasPrefix(lines[i], want) {
				t.Errorf("tiles:\n%s\nwant tile %d to start %q", tiles, i+1, want)
			}
		}
		if got := b.evalString(`String(document.querySelector('#composer button[type=submit]').disabled)`); got != "true" {
			t.Error("Post is enabled with photos that failed")
		}
		b.screenshot("composer-errors")
		for range 3 {
			b.click(`#composer .preview .remove`)
		}
		b.waitJS("the failed photos gone", `document.querySelectorAll('#composer .preview').length === 0 && !document.querySelector('#composer .photo-errors li')`)
	})

	step("upload progress", func(t *testing.T) {
		if got := b.evalString(`import('/ui.js').then(m => [m.uploading(0, 0), m.uploading(0, 2048), m.uploading(1023, 2048), m.uploading(2048, 2048), m.bytes(65536), m.bytes(10 << 20), m.bytes(1536 << 10), m.bytes(900)].join(' | '))`, chromedp.EvalAwaitPromise); got != "Uploading… | Uploading… 0% | Uploading… 49% | Uploading… 100% | 64 KB | 10 MB | 1.5 MB | 900 bytes" {
			t.Errorf("progress and sizes read %q", got)
		}
		photo := filepath.Join(t.TempDir(), "pools.jpg")
		writeImage(t, photo, 320, 240)
		// Every text the tile shows on the way is kept. How many steps
		// there are depends on the machine; the last, at the end of the
		// request body, always comes (XMLHttpRequest's upload events).
		b.evalString(`(() => {
			window.__seen = [];
			new MutationObserver(() => {
				for (const b of document.querySelectorAll('#composer .preview .badge')) window.__seen.push(b.textContent);
			}).observe(document.querySelector('#composer .previews'), { subtree: true, childList: true, characterData: true });
			return '';
		})()`)
		b.do(chromedp.SetUploadFiles(`#compose-photos`, []string{photo}))
		b.waitJS("the photo uploaded", `document.querySelector('#composer .preview')?.dataset.state === "done"`)
		seen := b.evalString(`window.__seen.join(' | ')`)
		t.Logf("the tile showed: %s", seen)
		if !regexp.MustCompile(`Uploading… \d+%`).MatchString(seen) {
			t.Errorf("the tile showed %q while uploading; want a percentage", seen)
		}
		b.do(chromedp.SendKeys(`#compose-content`, "Tide pools at low water"))
		b.click(`#composer button[type=submit]`)
		b.waitJS("the post with its photo", `document.querySelector('.posts > .post:first-child .content')?.textContent === "Tide pools at low water" && document.querySelector('.posts > .post:first-child .photos img')`)
	})

	step("signing in on a closed, public instance", func(t *testing.T) {
		b.click(`#nav a[href="#/settings"]`)
		b.click(`#sign-out`)
		b.waitJS("the sign-in page named", `document.querySelector('h1')?.textContent === "Sign in to Seaside Club"`)
		b.absent(`.auth a[href="#/register"]`, "a register link on a closed instance")
		b.waitVisible(`.auth button.link`)
		b.screenshot("signin-public")
		b.click(`.auth button.link`)
		b.waitJS("the feed, read without an account", `[...document.querySelectorAll('.posts .post .content')].some(c => c.textContent === "Dunes at dusk")`)
		b.absent(`#composer`, "a composer for a visitor")
		b.checkText()
		b.click(`.posts > .post:first-child button.comments-toggle`)
		b.waitVisible(`.posts > .post:first-child .comments [role=status]`)
		b.waitJS("no comments yet", `document.querySelector('.posts > .post:first-child .comments [role=status]').textContent === "No comments yet."`)
		b.absent(`.posts .comment-form`, "a comment form for a visitor")
		b.screenshot("visitor-feed")
		b.hash("#/register")
		b.waitJS("registration closed", `document.querySelector('h1')?.textContent === "Registration is closed"`)
		b.absent(`#register-form`, "a register form on a closed instance")
	})

	b.checkErrors()
}

// newBrowser starts headless Chromium for one test, watching for errors.
func newBrowser(t *testing.T, chrome, base string) *browser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	ctx, cancel = chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancel)
	ctx, cancel = chromedp.NewContext(ctx)
	t.Cleanup(cancel)

	b := &browser{t: t, ctx: ctx, base: base, shots: t.ArtifactDir()}
	b.watchForErrors()
	return b
}

// noChromium tells a developer at a terminal, once per test binary, that the
// browser tests did not run: `go test ./...` shows nothing of a package
// that passes, skipped tests included.
var noChromium sync.Once

// findChromium finds the browser. Without one the browser tests skip,
// saying so loudly, unless CI is set: there they must run.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium, chromium-browser or google-chrome on PATH, and CI is set: the browser tests must run here (apt-get install chromium)")
	}
	const skipped = "moments: browser tests SKIPPED — no chromium found; install it (apt-get install chromium) to run them"
	noChromium.Do(func() {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, skipped)
			tty.Close()
		}
	})
	t.Skip(skipped)
	return ""
}

// browser is one Chromium tab and the test steps run in it.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string

	mu       sync.Mutex
	problems []string
	expected []*regexp.Regexp // problems a step causes on purpose
}

// expect lets problems matching re pass from now on, for a step that
// causes them on purpose.
func (b *browser) expect(re string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expected = append(b.expected, regexp.MustCompile(re))
}

// watchForErrors records console errors, uncaught exceptions and error log
// entries (CSP violations and failed loads among them). A page script also
// turns every securitypolicyviolation event into a console error, in case
// the browser reports one only there.
func (b *browser) watchForErrors() {
	b.t.Helper()
	err := chromedp.Listen(b.ctx, func(ev any) {
		var problem string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
				return
			}
			var args []string
			for _, a := range ev.Args {
				if a.Value != nil {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			problem = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		case *runtime.EventExceptionThrown:
			problem = (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error()
		case *log.EventEntryAdded:
			if ev.Entry.Level != log.EntryLevelError {
				return
			}
			problem = fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		default:
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, re := range b.expected {
			if re.MatchString(problem) {
				return
			}
		}
		b.problems = append(b.problems, problem)
	})
	if err != nil {
		b.t.Fatal(err)
	}
	_, err = chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `document.addEventListener('securitypolicyviolation', e =>
			console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI));`,
	})
	if err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) checkErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser reported: %s", p)
	}
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

// reload loads the page again and waits for sel, so that what is checked
// next comes from the server and not from the page's memory.
func (b *browser) reload(sel string) {
	b.t.Helper()
	b.do(chromedp.Reload())
	b.waitVisible(sel)
}

// hash moves the app to another of its routes, as a link would.
func (b *browser) hash(h string) {
	b.t.Helper()
	b.evalString(`location.hash = ` + jsString(h))
}

// absent fails the test when sel matches a visible element; what says
// what that element would be.
func (b *browser) absent(sel, what string) {
	b.t.Helper()
	if got := b.evalString(`String([...document.querySelectorAll(` + jsString(sel) + `)].some(e => e.checkVisibility()))`); got != "false" {
		b.t.Errorf("%s is shown (%s)", what, sel)
	}
}

// checkText fails the test when the page shows a value that leaked into it
// as text: false, undefined, null, NaN or [object …], in a text node, a
// title, alt, aria-label or placeholder, or the document's title. The test
// content never contains these words.
func (b *browser) checkText() {
	b.t.Helper()
	stray, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`(() => {
		const bad = /\b(false|undefined|null|NaN)\b|\[object/;
		const found = [];
		if (bad.test(document.title)) found.push('title: ' + document.title);
		const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n = walk.nextNode(); n; n = walk.nextNode()) {
			if (bad.test(n.data) && n.parentElement.checkVisibility()) found.push(n.parentElement.tagName + ': ' + n.data.trim());
		}
		for (const e of document.body.querySelectorAll('[title], [alt], [aria-label], [placeholder]')) {
			if (!e.checkVisibility()) continue;
			for (const a of ['title', 'alt', 'aria-label', 'placeholder']) {
				const v = e.getAttribute(a);
				if (v && bad.test(v)) found.push(e.tagName + ' ' + a + ': ' + v);
			}
		}
		return found;
	})()`))
	if err != nil {
		b.t.Fatal(err)
	}
	if len(stray) > 0 {
		hash := b.evalString(`location.hash`)
		b.t.Errorf("stray text at %s: %q", hash, stray)
	}
}

// contrastJS computes WCAG 2 contrast ratios from computed styles. A colour
// with alpha is laid over what is behind it, up to the first opaque
// background.
const contrastJS = `
const parseColour = (c) => {
	let m = c.match(/^rgba?\(([^)]*)\)$/);
	let scale = 1;
	if (!m) {
		m = c.match(/^color\(srgb ([^)]*)\)$/);
		scale = 255;
	}
	if (!m) throw new Error('cannot read the colour ' + c);
	const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
	return [p[0] * scale, p[1] * scale, p[2] * scale, p.length > 3 ? p[3] : 1];
};
const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
const backgroundOf = (el) => {
	const layers = [];
	for (let e = el; e; e = e.parentElement) {
		const c = parseColour(getComputedStyle(e).backgroundColor);
		if (c[3] > 0) layers.push(c);
		if (c[3] >= 1) break;
	}
	return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255, 1]);
};
const luminance = (c) => {
	const [r, g, b] = c.slice(0, 3).map(v => {
		v /= 255;
		return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
	});
	return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const ratio = (a, b) => {
	const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
	return (hi + 0.05) / (lo + 0.05);
};
const textVsBackground = (el) => {
	const bg = backgroundOf(el);
	return ratio(over(parseColour(getComputedStyle(el).color), bg), bg);
};
// An input's border sits between its own fill and what is behind it; it
// must stand out from both.
const borderVsBackground = (el) => {
	const border = parseColour(getComputedStyle(el).borderTopColor);
	const own = backgroundOf(el), behind = backgroundOf(el.parentElement);
	return Math.min(ratio(over(border, own), own), ratio(over(border, behind), behind));
};
`

// contrast evaluates expr, which may use contrastJS's functions and may
// return a promise, to a contrast ratio.
func (b *browser) contrast(expr string) float64 {
	b.t.Helper()
	r, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`(async () => {`+contrastJS+` return await (`+expr+`); })()`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return r
}

// chooseAudience picks who can see the post in the composer, as a
// keyboard or a pointer would: the select changes and says so.
func (b *browser) chooseAudience(value string) {
	b.t.Helper()
	b.waitVisible(`#compose-audience`)
	b.evalString(`(() => {
		const s = document.querySelector('#compose-audience');
		s.focus();
		s.value = ` + jsString(value) + `;
		s.dispatchEvent(new Event('change', { bubbles: true }));
		return s.value;
	})()`)
	b.waitJS("the audience "+value, `document.querySelector('#compose-audience').value === `+jsString(value))
}

// signIn signs in through the sign-in form and waits for the feed.
func (b *browser) signIn(user, password string) {
	b.t.Helper()
	b.waitVisible(`#signin-form input[name=username]`)
	b.do(
		chromedp.SendKeys(`#signin-form input[name=username]`, user),
		chromedp.SendKeys(`#signin-form input[name=password]`, password),
	)
	b.click(`#signin-form button[type=submit]`)
	b.waitVisible(`#composer textarea[name=content]`)
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do(chromedp.Click(sel))
}

func (b *browser) waitVisible(sel string) {
	b.t.Helper()
	b.waitJS(sel+" visible", `(() => {
		const el = document.querySelector(`+jsString(sel)+`);
		return el !== null && el.checkVisibility() && el.getBoundingClientRect().height > 0;
	})()`)
}

// waitJS waits until the expression is truthy; on a timeout it fails with
// what it waited for and what the browser reported so far.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		b.checkErrors()
		hash := b.evalString(`location.hash`)
		b.t.Fatalf("waiting for %s (at %s): %v", what, hash, err)
	}
}

func (b *browser) evalString(expr string, opts ...chromedp.EvaluateOption) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr, opts...))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return s
}

// screenshot saves the whole page at phone and at desktop width.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	for _, w := range []struct {
		label         string
		width, height int64
	}{{"phone", 390, 844}, {"desktop", 1280, 900}} {
		b.do(chromedp.EmulateViewport(w.width, w.height))
		// Let the layout settle and visible images finish loading.
		_, _ = chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](`[...document.images].every(i => i.complete || i.loading === 'lazy')`,
			chromedp.WithPollingTimeout(3*time.Second)))
		buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatal(err)
		}
		file := filepath.Join(b.shots, name+"-"+w.label+".png")
		if err := os.WriteFile(file, buf, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("screenshot: %s", file)
	}
}

// colorScheme emulates prefers-color-scheme; "" ends the emulation.
func (b *browser) colorScheme(scheme string) {
	b.t.Helper()
	var features []*emulation.MediaFeature
	if scheme != "" {
		features = append(features, &emulation.MediaFeature{Name: "prefers-color-scheme", Value: scheme})
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features}); err != nil {
		b.t.Fatal(err)
	}
}

func likeState(sel string, pressed bool, count int) string {
	return fmt.Sprintf(`(() => {
		const b = document.querySelector(%s);
		return b && !b.hasAttribute('aria-busy') && b.getAttribute('aria-pressed') === "%t" && b.querySelector('.n').textContent === "%d";
	})()`, jsString(sel), pressed, count)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\u2028", `\u2028`, "\u2029", `\u2029`)
	return `"` + r.Replace(s) + `"`
}

// writeImage writes a w×h picture of a beach (sky, sea, sand) as PNG or
// JPEG, by the file's extension.
func writeImage(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			shade := uint8(40 * x / w)
			var c color.RGBA
			switch {
			case y < h*2/5: // sky, lighter towards the horizon
				c = color.RGBA{uint8(90 + 120*y/h), uint8(160 + 100*y/h), 235, 255}
			case y < h*3/5: // sea
				c = color.RGBA{20 + shade, 110, 170, 255}
			default: // sand
				c = color.RGBA{230, 200 - shade, 140, 255}
			}
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 85})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writePaletted writes a one-colour w×h PNG: a few bytes, whatever its size.
func writePaletted(t *testing.T, path string, w, h int) {
	t.Helper()
	encodePNG(t, path, image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.RGBA{240, 200, 140, 255}}))
}

func encodePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
