import { registry } from "@web/core/registry";

/**
 * The salesperson opens a client's card, clicks "Recordings" and the browser plays the
 * recording served by /crm_voip/recording/<id> (a real WAV from the VATS simulator).
 */
registry.category("web_tour.tours").add("crm_voip_recording_tour", {
    steps: () => [
        {
            content: "Open the client's recordings",
            trigger: ".oe_stat_button:has(.o_stat_text:contains(Recordings))",
            run: "click",
        },
        {
            content: "The recordings list opens",
            trigger: ".o_breadcrumb:contains(Recordings)",
        },
        {
            content: "The recording loads in the browser: it is real, decodable audio",
            trigger: ".o_list_view audio.o_crm_voip_audio_player[src^='/crm_voip/recording/']",
            async run() {
                const audio = this.anchor;
                if (audio.readyState < 1) {
                    await new Promise((resolve, reject) => {
                        audio.addEventListener("loadedmetadata", resolve, { once: true });
                        audio.addEventListener(
                            "error",
                            () => reject(new Error(`audio error ${audio.error?.code}`)),
                            { once: true }
                        );
                        audio.load();
                    });
                }
                if (!(audio.duration > 0)) {
                    throw new Error(`The recording has no duration (${audio.duration})`);
                }
                // Seeking makes the browser ask for a byte range (HTTP 206).
                audio.currentTime = audio.duration / 2;
                audio.muted = true;
                await audio.play().catch(() => {});
                audio.pause();
                audio.closest(".o_data_row").classList.add("o_crm_voip_audio_checked");
            },
        },
        {
            content: "Playing did not open the record",
            trigger: ".o_list_view .o_data_row.o_crm_voip_audio_checked",
        },
    ],
});
