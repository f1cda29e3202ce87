{#- How many review items there are, by reason and by the week of the slot (in the
    report's timezone; null for items without a slot), and how many of them the queue
    lists (one per meeting). The page, the terminal and the digest count from here: the
    queue itself is only ever read a page at a time, so its totals must not depend on
    how much of it is shown, and must not cost a read of the whole queue per view. -#}
with

queue as (

    select
        reason,
        start_at,
        {{ answer_rank('reason') }} as answer_rank,
        -- the meeting's first reason that needs an answer (null: no booking)
        min({{ answer_rank('reason') }}) over (partition by booking_id) as first_rank,
        booking_id

    from {{ ref('review_queue') }}

),

counted as (

    select
        reason,
        {{ week_start('start_at') }} as slot_week,
        count(*) as items,
        count(*) filter (
            where answer_rank is not null
              and (booking_id is null or answer_rank = first_rank)
        ) as listed

    from queue
    group by 1, 2

)

select
    cast(reason as text) as reason,
    cast(slot_week as date) as slot_week,
    cast(items as integer) as items,
    cast(listed as integer) as listed

from counted
