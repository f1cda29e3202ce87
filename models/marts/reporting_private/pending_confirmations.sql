{#- Owner confirmations saved after the marts were last built: not applied yet. A view,
    so the page sees a confirmation at once; it runs with its owner's rights, so the
    page's role needs no access to the raw schema. -#}
{{ config(materialized='view') }}

with

confirmations as (

    select * from {{ ref('stg_review__manual_outcomes') }}

),

last_build as (

    select built_at from {{ ref('feed_health') }}

),

final as (

    select
        confirmations.confirmation_id,
        confirmations.booking_id,
        confirmations.manual_outcome,
        confirmations.confirmed_by,
        confirmations.confirmed_at,
        confirmations.confirmation_note

    from confirmations
    cross join last_build
    where confirmations.confirmed_at > last_build.built_at

)

select * from final
