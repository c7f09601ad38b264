package hub_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu" // registers "cpu" for backend.Open
	"github.com/ia3/ia3/hub"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
)

// Load a base model and an adapter named either by a local directory or
// by a Hub id: Resolve returns a local directory for both, downloading
// into the Hugging Face cache when needed (HF_HUB_OFFLINE=1 reads the
// cache only). model.Load and ia3.FromPretrained never reach the network
// themselves.
func ExampleResolve() {
	ctx := context.Background()
	modelDir, err := hub.Resolve(ctx, "Qwen/Qwen2.5-0.5B@main", hub.Options{
		Progress: func(p hub.Progress) { log.Printf("%s %s: %d/%d bytes", p.Repo, p.File, p.Done, p.Total) },
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, hub.ErrUnauthorized): set HF_TOKEN
	}
	adapterDir, err := hub.Resolve(ctx, "org/my-ia3-adapter", hub.Options{Kind: hub.Adapter})
	if err != nil {
		log.Fatal(err)
	}
	b, err := backend.Open(ctx, "cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	base, err := model.Load(ctx, modelDir, b)
	if err != nil {
		log.Fatal(err)
	}
	defer base.Free()
	peft, err := ia3.FromPretrained(base, adapterDir, "default", false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(peft.ActiveAdapters())
}
