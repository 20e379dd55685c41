-- Who owns a number, within one company: the contacts and the leads, best first.
--
-- A database function because PL/pgSQL keeps its plans: planning the statements below
-- costs several times their execution, on the path of every call. The generic plan is
-- forced (the per-call plans look cheaper and would be made again on every call), so
-- every statement is written for a plan that holds whatever the number: index scans
-- only. Created or replaced by crm.voip.call.init(), dropped by the uninstall hook.
--
-- number: E.164 (crm_voip_phone_e164 / crm_voip_mobile_e164 of res.partner and crm.lead)
-- partner_ids: up to 50 active contacts of the company (or shared) with that phone or mobile:
--     the latest call first, then one with a salesperson, then a company or individual
--     before an employee, then the newest
-- lead_ids, lead_partner_ids: active leads of the company (or shared) with that number
--     or belonging to the matching contacts' commercial entities and every member of
--     them (archived ones too, as child_of): an open opportunity first, then any open
--     lead, then one with a salesperson, then the most recently changed; 50 at most

CREATE OR REPLACE FUNCTION crm_voip_identify(
    number varchar,
    company_id integer,
    OUT partner_ids integer[],
    OUT lead_ids integer[],
    OUT lead_partner_ids integer[]
) LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $function$
DECLARE
    commercial_ids integer[];
    family_ids integer[];
BEGIN
    SELECT array_agg(matched.id ORDER BY matched.last_call DESC NULLS LAST,
                                         matched.user_id IS NOT NULL DESC,
                                         matched.parent_id IS NULL DESC,
                                         matched.id DESC),
           array_agg(DISTINCT matched.commercial_partner_id)
      INTO partner_ids, commercial_ids
      FROM (SELECT partner.id, partner.commercial_partner_id, partner.user_id, partner.parent_id,
                   (SELECT max(call.date_start) FROM crm_voip_call call
                     WHERE call.partner_id = partner.id) AS last_call
              FROM res_partner partner
             WHERE (partner.crm_voip_phone_e164 = number OR partner.crm_voip_mobile_e164 = number)
               AND partner.active
               AND (partner.company_id = crm_voip_identify.company_id OR partner.company_id IS NULL)
             LIMIT 50) matched;

    -- The whole family first, as an array: with a set, the generic plan hashes every
    -- lead to join them; with an array, it reads the partner_id index for each member.
    IF commercial_ids IS NOT NULL THEN
        WITH RECURSIVE family(id) AS (
            SELECT unnest(commercial_ids)
            UNION
            SELECT child.id FROM res_partner child JOIN family ON child.parent_id = family.id
        )
        SELECT array_agg(family.id) INTO family_ids FROM family;
    END IF;

    -- Ranked by a window function: no index gives that order, so the planner gathers
    -- the few candidates (three index scans, OR-ed) before sorting them.
    SELECT array_agg(ranked.id ORDER BY ranked.position),
           array_agg(ranked.partner_id ORDER BY ranked.position)
      INTO lead_ids, lead_partner_ids
      FROM (SELECT lead.id, lead.partner_id,
                   row_number() OVER (
                       ORDER BY state.is_open AND lead.type = 'opportunity' DESC,
                                state.is_open DESC,
                                lead.user_id IS NOT NULL DESC,
                                lead.write_date DESC NULLS LAST,
                                lead.id DESC
                   ) AS position
              FROM crm_lead lead
              LEFT JOIN crm_stage stage ON stage.id = lead.stage_id
             CROSS JOIN LATERAL (
                   SELECT NOT coalesce(stage.is_won, FALSE)
                          AND coalesce(lead.probability, 0) < 100 AS is_open
             ) state
             WHERE (lead.crm_voip_phone_e164 = number
                    OR lead.crm_voip_mobile_e164 = number
                    OR lead.partner_id = ANY(family_ids))
               AND lead.active
               AND (lead.company_id = crm_voip_identify.company_id OR lead.company_id IS NULL)
             ORDER BY position
             LIMIT 50
           ) ranked;
END
$function$;
