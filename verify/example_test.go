package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyprov/keyprov/verify"
)

// An HTTP middleware that authenticates requests with keyprov's keys.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	v, err := verify.New(pool,
		verify.WithCache(time.Hour, 10_000), // a revocation still takes effect within a second
		verify.WithLastUsed(time.Minute))    // one UPDATE a minute at most
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close(context.Background()) // before pool.Close: flushes last_used_at

	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				http.Error(w, "missing API key", http.StatusUnauthorized)
				return
			}
			key, err := v.Verify(r.Context(), tok)
			var verr *verify.Error
			switch {
			case errors.As(err, &verr):
				log.Printf("rejected API key: %v", err) // names the key, never the token
				http.Error(w, "invalid API key: "+verify.Code(err), http.StatusUnauthorized)
				return
			case err != nil:
				http.Error(w, "cannot check the API key now", http.StatusServiceUnavailable)
				return
			}
			if err := key.Allows(r.Header.Get("X-Tenant")); err != nil {
				http.Error(w, "SCOPE_DENIED", http.StatusForbidden)
				return
			}
			if r.Method != http.MethodGet && !key.Can("wb.page") { // "wb.*" and "*" grant it too
				http.Error(w, "FORBIDDEN", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	_ = http.ListenAndServe(":8080", authenticate(http.NotFoundHandler()))
}

func ExampleKey_Allows() {
	universal := &verify.Key{Address: "root/frontend", Tenant: "root", Slug: "frontend", Universal: true}
	website := &verify.Key{Address: "acme/website", Tenant: "acme", Slug: "website"}
	fmt.Println(universal.Allows("globex"))
	fmt.Println(website.Allows("acme"))
	err := website.Allows("globex")
	fmt.Println(verify.Code(err))
	fmt.Println(err)
	// Output:
	// <nil>
	// <nil>
	// scope_denied
	// verify: scope denied: acme/website (a key of tenant "acme" cannot act in tenant "globex")
}

func ExampleKey_Can() {
	key := &verify.Key{Permissions: []verify.Permission{
		{Name: "cms.read"},
		{Name: "wb.*", Attributes: map[string]any{"rwd": "r"}},
	}}
	fmt.Println(key.Can("cms.read"), key.Can("cms.write"))
	fmt.Println(key.Can("wb.page"), key.Can("wb.page.edit"), key.Can("wb"))
	for _, p := range key.Grants("wb.page") {
		fmt.Println(p.Name, p.Attributes["rwd"])
	}
	// Output:
	// true false
	// true true false
	// wb.* r
}
